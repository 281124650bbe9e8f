// Connection: one accepted client, from the first byte to the last close callback.
// It reads the client's first bytes into a ConnBuf, asks Detection what to do, and applies the
// decision: REJECT closes; FORWARD has a Dialer connect to the backend, sends the sniffed bytes
// first (after a PROXY header if the rule asks for one), then relays both ways with a Relay;
// DEMUX hands the connection to a Tunnel of M-PROXY streams. It deletes itself after its last
// handle closed, writing one log line.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "../router/detection.hpp"
#include "close_reason.hpp"
#include "conn_buf.hpp"
#include "dialer.hpp"
#include "relay.hpp"
#include "tunnel.hpp"

namespace passthru::core {

class Worker;
struct Listener;

class Connection final : private RelayOwner, private Dialer::Owner, private TunnelOwner,
                         private RelayPoller::Handler {
 public:
  /// Accepts one pending connection on `listener`. Failures are logged and counted.
  static void accept(Worker& worker, Listener& listener);

  /// Ends the connection now (used when passthru stops).
  void shutdown() { close(CloseReason::Shutdown); }

  Connection* next = nullptr;  ///< the worker's list of live connections
  Connection* previous = nullptr;

 private:
  enum class Stage : std::uint8_t { Sniffing, Connecting, Flushing, Relaying, Tunneling, Closing };

  Connection(Worker& worker, Listener& listener);
  ~Connection() = default;

  // Detection.
  static void on_sniff_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_sniff_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void read_at_once();
  static void on_timer(uv_timer_t* timer);
  void sniffed(ssize_t nread);
  void apply(const Decision& decision);

  // Reaching the backend.
  void on_dialed(int status) override;
  void on_dialer_closed() override;
  void on_events(std::uint32_t events) override;  // the backend's, while flushing
  void flush();
  void start_relay();
  std::string write_proxy_header() const;

  // RelayOwner
  void on_relay_finished() override;
  void on_relay_failed(bool client_side, int status) override;

  // TunnelOwner
  void on_tunnel_finished(CloseReason reason, int status) override;
  void on_tunnel_closed() override;

  // Ending.
  void close(CloseReason reason, bool reset_client = false, bool reset_backend = false);
  void close_handle(uv_handle_t* handle, bool reset);
  static void on_closed(uv_handle_t* handle);
  void finish();
  void log_end() const;

  Worker& worker_;
  Listener& listener_;
  const ServerConfig& server_;
  Stage stage_ = Stage::Sniffing;
  CloseReason reason_ = CloseReason::Done;
  std::chrono::steady_clock::time_point started_;

  uv_tcp_t client_{};
  uv_timer_t timer_{};  ///< the detection deadline
  int pending_ = 0;  ///< open handles, plus the dialer and the tunnel while they have any
  bool client_eof_ = false;
  bool client_in_loop_ = false;  ///< the client was ever in libuv's epoll set (it read through libuv)
  bool dialing_ = false;
  bool tunneling_ = false;

  ConnBuf sniff_;
  Detection detection_;
  Decision decision_;
  IpAddress peer_;            ///< the TCP peer (who sent the bytes: FROM rules match it)
  IpAddress client_address_;  ///< the peer, or the address a trusted header gave
  IpAddress local_;           ///< the original destination a trusted header gave, if one did
  std::string proxy_header_;           ///< the PROXY header being sent to the backend, if any
  std::size_t flushed_ = 0;            ///< bytes of the header and sniffed bytes written so far
  int last_error_ = 0;                 ///< the last libuv error, for the log

  Dialer dialer_;
  Relay relay_;
  std::unique_ptr<Tunnel> tunnel_;
};

}  // namespace passthru::core
