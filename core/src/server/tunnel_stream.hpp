// TunnelStream: one client stream inside an M-PROXY tunnel, routed as if that client had
// connected directly: by the MPROXY table's NAME/SERVICE/SERVICEPORT rules on its metadata, else
// by the listener's other protocols sniffing its first data (TLS SNI, HTTP Host, SSH…), else by
// the server CATCHALL. It connects to the chosen backend with a Connector, then owns the
// backend's socket and relays both ways: the tunnel's data messages to the backend, the
// backend's bytes back as data messages. It logs one access line when it ends and is deleted
// by its tunnel once its Lifeline says every handle has closed.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "../router/detection.hpp"
#include "access_log.hpp"
#include "codec/mproxy_codec.hpp"
#include "close_reason.hpp"
#include "connector.hpp"
#include "deadline.hpp"
#include "lifeline.hpp"
#include "socket.hpp"

namespace passthru::core {

class Tunnel;

class TunnelStream final : private Lifeline::Owner, private Connector::Owner, private Socket::Watcher {
 public:
  TunnelStream(Tunnel& tunnel, passthru::mproxy::Meta meta);
  TunnelStream(const TunnelStream&) = delete;
  TunnelStream& operator=(const TunnelStream&) = delete;

  /// Chooses a rule from the stream's metadata, if the MPROXY table has one for it.
  void start();
  /// The tunnel's key for this stream: "family,address,port".
  [[nodiscard]] const std::string& id() const noexcept { return record_.stream; }
  /// What the tunnel's client sent for this stream.
  void data(std::string&& body);
  void peer_end();
  void peer_error();
  void peer_pause(bool pause);
  /// The tunnel's connection is full (true) or has room again (false).
  void throttle(bool full);
  /// Ends the stream now; reset the backend if `reset`.
  void close(CloseReason why, bool reset);

 private:
  enum class Stage : std::uint8_t { Detecting, Connecting, Open, Ended };

  void decide(const Decision& decision);
  void on_connected(Socket backend) override;
  void on_connect_failed(CloseReason why, int error) override;
  void on_ready(Socket& socket) override;
  void on_released() override;
  void queue_for_backend(std::string&& bytes);
  void flush_to_backend();
  void read_backend();
  void fail(CloseReason why, int error, const char* code);
  [[nodiscard]] bool wants_to_read() const noexcept { return !peer_paused_ && !throttled_; }

  Tunnel& tunnel_;
  passthru::mproxy::Meta meta_;
  Stage stage_ = Stage::Detecting;
  AccessRecord record_;
  Lifeline lifeline_{*this};
  Deadline deadline_;
  Connector connector_;
  Socket backend_;
  Detection detection_;
  std::string pending_;                ///< bytes received before the backend is connected
  std::deque<std::string> to_backend_;  ///< bytes on their way to the backend
  std::size_t written_ = 0;            ///< of to_backend_.front()
  std::size_t queued_ = 0;             ///< bytes in to_backend_ not yet written
  bool peer_ended_ = false;
  bool peer_paused_ = false;
  bool throttled_ = false;
  bool asked_pause_ = false;  ///< we sent `pause` for this stream
  bool holding_ = false;      ///< we asked the tunnel to stop reading
  bool backend_shut_ = false;
};

}  // namespace passthru::core
