// Pipe: one direction of a forwarded connection, from a source socket to a sink socket.
// Backpressure: at most one buffer is in flight; reading from the source stops until the sink
// has taken it, so a slow side stops reads on the fast side and memory stays bounded.
// Half-close: the source's EOF becomes a shutdown(SHUT_WR) of the sink once every byte is
// written. A buffer is borrowed from the pool only while the socket is readable, so an idle
// connection holds none. Errors are reported to the owner, which decides how to close.
#pragma once

#include <uv.h>

#include <cstdint>

#include "buffer_pool.hpp"

namespace passthru::core {

class Pipe;

/// What a Pipe tells the connection that owns it.
class PipeOwner {
 public:
  virtual void on_pipe_finished(Pipe& pipe) = 0;
  /// `status` is a libuv error; `at_source` says whether reading (true) or writing failed.
  virtual void on_pipe_failed(Pipe& pipe, int status, bool at_source) = 0;

 protected:
  ~PipeOwner() = default;
};

class Pipe {
 public:
  Pipe(PipeOwner& owner, BufferPool& pool) noexcept : owner_(&owner), pool_(&pool) {}
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  /// Starts relaying. `source_finished`: the source already sent EOF (while being sniffed).
  /// The source handle's `data` is pointed at this pipe.
  void start(uv_tcp_t* source, uv_tcp_t* sink, bool source_finished);

  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  /// The source sent EOF and the sink was shut down for writing.
  [[nodiscard]] bool finished() const noexcept { return shutdown_done_; }
  /// Adds bytes written before the pipe started (the sniffed prefix).
  void count(std::uint64_t n) noexcept { bytes_ += n; }

 private:
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);

  void read(ssize_t nread, const uv_buf_t* buf);
  void shut_sink();

  PipeOwner* owner_;
  BufferPool* pool_;
  uv_tcp_t* source_ = nullptr;
  uv_tcp_t* sink_ = nullptr;
  uv_write_t write_req_{};
  uv_shutdown_t shutdown_req_{};
  char* in_flight_ = nullptr;  ///< the buffer the sink is still writing
  std::uint64_t bytes_ = 0;
  bool source_eof_ = false;
  bool shutdown_done_ = false;
};

}  // namespace passthru::core
