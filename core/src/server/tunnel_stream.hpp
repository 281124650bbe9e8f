// TunnelStream: one client stream inside an M-PROXY tunnel, routed as if that client had
// connected directly: by the MPROXY table's NAME/SERVICE/SERVICEPORT rules on its metadata, else
// by the listener's other protocols sniffing its first data (TLS SNI, HTTP Host, SSH…), else by
// the server CATCHALL. It connects to the chosen backend with a Dialer and relays both ways:
// the tunnel's data messages to the backend, the backend's bytes back as data messages.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "../router/detection.hpp"
#include "close_reason.hpp"
#include "dialer.hpp"
#include "passthru/wire/mproxy_codec.hpp"

namespace passthru::core {

class Tunnel;

class TunnelStream final : private Dialer::Owner {
 public:
  TunnelStream(Tunnel& tunnel, passthru::mproxy::Meta meta);
  TunnelStream(const TunnelStream&) = delete;
  TunnelStream& operator=(const TunnelStream&) = delete;

  /// Chooses a rule from the stream's metadata, if the MPROXY table has one for it.
  void start();
  /// The tunnel's key for this stream: "family,address,port".
  [[nodiscard]] std::string id() const { return meta_.id(); }
  /// What the tunnel's client sent for this stream.
  void data(std::string&& body);
  void peer_end();
  void peer_error();
  void peer_pause(bool pause);
  /// The tunnel's connection is full (true) or has room again (false).
  void throttle(bool full);
  /// Ends the stream now (the tunnel is closing); reset the backend if `reset`.
  void close(CloseReason reason, bool reset);

 private:
  enum class Stage : std::uint8_t { Detecting, Dialing, Open, Closing };
  struct Write;

  void decide(const Decision& decision);
  void on_dialed(int status) override;
  void on_dialer_closed() override;
  void write_to_backend(std::string&& bytes);
  void update_backend_reading();
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  void fail(CloseReason reason, int status, const char* code);
  void log_end() const;

  Tunnel& tunnel_;
  passthru::mproxy::Meta meta_;
  sockaddr_storage address_{};  ///< the stream's client, from its metadata
  Stage stage_ = Stage::Detecting;
  CloseReason reason_ = CloseReason::Done;
  int last_error_ = 0;
  std::chrono::steady_clock::time_point started_;
  Detection detection_;
  Decision decision_;
  std::string pending_;  ///< bytes received before the backend is connected
  Dialer dialer_;
  bool dialing_ = false;
  bool peer_ended_ = false;
  bool peer_paused_ = false;
  bool throttled_ = false;
  bool reading_ = false;
  bool asked_pause_ = false;  ///< we sent `pause` for this stream
  bool holding_ = false;      ///< we asked the tunnel to stop reading
  std::size_t queued_ = 0;    ///< bytes written to the backend and not yet taken
  std::uint64_t bytes_up_ = 0;
  std::uint64_t bytes_down_ = 0;
  uv_shutdown_t shutdown_req_{};
};

}  // namespace passthru::core
