// Connection: one accepted client, from the first byte to the last close callback.
// It reads the client's first bytes into a ConnBuf, asks Detection what to do, and applies the
// decision: REJECT closes; FORWARD resolves and connects to the backend (every address in
// turn, each within connect_timeout_ms), sends the sniffed bytes first, then relays both ways
// with two Pipes. It deletes itself after its last handle closed, writing one log line.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "../router/detection.hpp"
#include "close_reason.hpp"
#include "conn_buf.hpp"
#include "pipe.hpp"

namespace passthru::core {

class Worker;
struct Listener;

class Connection final : private PipeOwner {
 public:
  /// Accepts one pending connection on `listener`. Failures are logged and counted.
  static void accept(Worker& worker, Listener& listener);

  /// Ends the connection now (used when passthru stops).
  void shutdown() { close(CloseReason::Shutdown); }

  Connection* next = nullptr;  ///< the worker's list of live connections
  Connection* previous = nullptr;

 private:
  enum class Stage : std::uint8_t { Sniffing, Resolving, Connecting, Flushing, Relaying, Closing };

  Connection(Worker& worker, Listener& listener);
  ~Connection() = default;

  // Detection.
  static void on_sniff_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_sniff_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_timer(uv_timer_t* timer);
  void sniffed(ssize_t nread);
  void apply(const Decision& decision);

  // Reaching the backend.
  void resolve();
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result);
  void connect_next();
  static void on_connect(uv_connect_t* req, int status);
  void retry_connect(int status);
  static void on_backend_closed_for_retry(uv_handle_t* handle);
  static void on_flushed(uv_write_t* req, int status);
  void start_relay();
  std::string write_proxy_header() const;

  // PipeOwner
  void on_pipe_finished(Pipe& pipe) override;
  void on_pipe_failed(Pipe& pipe, int status, bool at_source) override;

  // Ending.
  void close(CloseReason reason, bool reset_client = false, bool reset_backend = false);
  void close_handle(uv_handle_t* handle, bool reset);
  void close_handle(uv_tcp_t* tcp, bool reset);
  void close_handle(uv_timer_t* timer, bool reset);
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
  uv_tcp_t backend_{};
  uv_timer_t timer_{};
  uv_getaddrinfo_t resolve_req_{};
  uv_connect_t connect_req_{};
  uv_write_t flush_req_{};
  int pending_ = 0;  ///< open handles plus a resolve in flight
  bool backend_open_ = false;
  bool client_eof_ = false;

  ConnBuf sniff_;
  Detection detection_;
  Decision decision_;
  sockaddr_storage peer_{};    ///< the TCP peer (who sent the bytes: FROM rules match it)
  sockaddr_storage client_address_{};  ///< the peer, or the address a trusted header gave
  sockaddr_storage local_{};   ///< the original destination: our address, or the header's
  std::string proxy_header_;   ///< the PROXY header being sent to the backend, if any
  addrinfo* addresses_ = nullptr;
  addrinfo* next_address_ = nullptr;
  bool literal_tried_ = false;
  int last_error_ = 0;  ///< the last libuv error, for the log

  Pipe upstream_;    ///< client -> backend
  Pipe downstream_;  ///< backend -> client
};

}  // namespace passthru::core
