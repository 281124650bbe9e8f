// TunnelLink: one worker's outgoing M-PROXY tunnel for one [tunnels.NAME] (the MUX action).
// It dials the far end (a DEMUX listener) when a connection first needs it, carries each MUX
// connection as a local stream of its Tunnel, and keeps the link as its config says:
//   - idle_timeout_ms: closed once no stream has been open for that long (0: as soon as the
//     last one ends), and dialled again by the next connection; absent: kept open, and dialled
//     again whenever it is lost;
//   - a failed dial or a lost link is dialled again after a pause that doubles from
//     reconnect_min_ms up to reconnect_max_ms, each drawn between half and all of it (jitter),
//     and starts again from the least once a dial succeeds;
//   - every stream of a lost link ends with end=tunnel_lost; connections that arrive while it
//     is down wait for it (each for the tunnel's connect_timeout_ms, timed by the connection).
// Each worker keeps links of its own, as it keeps every other socket: no socket or stream is
// shared between threads, so a process with N workers keeps up to N links to a far end.
// One dial and its tunnel are a Session, which stays until every stream it carried is released;
// the link itself lives as long as its worker. It is not the far end: Tunnel is, on both sides.
#pragma once

#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "../config/config.hpp"
#include "close_reason.hpp"
#include "tunnel.hpp"

namespace passthru::core {

class Worker;
struct ListenerRules;

class TunnelLink {
 public:
  /// A connection waiting for the link.
  class Client {
   public:
    /// The link is up: open the stream in `tunnel` now.
    virtual void on_link_ready(Tunnel& tunnel) = 0;

   protected:
    ~Client() = default;
  };

  /// `config` holds `tunnels[index]`, and is held for as long as the link lives.
  TunnelLink(Worker& worker, std::shared_ptr<const Config> config, std::size_t index);
  ~TunnelLink();
  TunnelLink(const TunnelLink&) = delete;
  TunnelLink& operator=(const TunnelLink&) = delete;

  const TunnelConfig& config() const noexcept { return tunnel_; }
  /// Tells `client` on_link_ready at once if the link is up, else once it is (dialling if need be).
  void request(Client& client);
  /// Dials now, if it is not up or dialling: a reverse tunnel's link, kept up from the start.
  void keep_up();
  /// `client` no longer waits (it timed out or closed).
  void cancel(Client& client) noexcept;
  /// Closes the link and every stream (passthru is stopping); the link is not dialled again.
  void close();

 private:
  class Session;
  enum class State : std::uint8_t { Idle, Dialling, Up, Pausing, Closed };

  static void on_timer(uv_timer_t* timer);
  void dial();
  void connected(Session& session);
  void dial_failed(Session& session, CloseReason why, int error);
  void lost(Session& session, CloseReason why, int error);
  void idle(Session& session);
  void released(Session* session);
  /// Closes the session now (its streams end with `why`) and keeps it until released.
  void retire(CloseReason why);
  void pause_then_dial();
  /// The body of the first control message: [1,"auth",{"tunnel":NAME[,"token":TOKEN]}].
  std::string greeting() const;
  [[nodiscard]] bool keeps_open() const noexcept { return !tunnel_.idle_timeout_ms.has_value(); }

  Worker& worker_;
  std::shared_ptr<const Config> config_;
  const TunnelConfig& tunnel_;  ///< within config_
  std::unique_ptr<ListenerRules> rules_;  ///< what the far end's streams are routed by, and counted in
  Action demux_;  ///< the tunnel's limits, as a DEMUX rule's
  State state_ = State::Idle;
  std::unique_ptr<Session> session_;  ///< the dial in progress, or the tunnel up
  std::vector<std::unique_ptr<Session>> retired_;  ///< closed, until their streams are released
  std::deque<Client*> waiting_;
  uv_timer_t timer_{};  ///< the pause before the next dial, or the idle close
  bool timer_open_ = false;
  unsigned failures_ = 0;  ///< dials failed or links lost since the last good dial
};

}  // namespace passthru::core
