#include "pipe.hpp"

namespace passthru::core {

void Pipe::start(uv_tcp_t* source, uv_tcp_t* sink, bool source_finished) {
  source_ = source;
  sink_ = sink;
  source_->data = this;
  write_req_.data = this;
  shutdown_req_.data = this;
  if (source_finished) {
    source_eof_ = true;
    shut_sink();
    return;
  }
  int status = uv_read_start(reinterpret_cast<uv_stream_t*>(source_), on_alloc, on_read);
  if (status < 0) owner_->on_pipe_failed(*this, status, true);
}

void Pipe::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<Pipe*>(handle->data);
  *buf = uv_buf_init(self->pool_->take(), static_cast<unsigned>(self->pool_->buffer_size()));
}

void Pipe::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  static_cast<Pipe*>(stream->data)->read(nread, buf);
}

void Pipe::read(ssize_t nread, const uv_buf_t* buf) {
  if (nread <= 0) {
    pool_->give(buf->base);  // nothing to send: an idle socket keeps no buffer
    if (nread == 0) return;  // EAGAIN
    uv_read_stop(reinterpret_cast<uv_stream_t*>(source_));
    if (nread == UV_EOF) {
      source_eof_ = true;
      shut_sink();
    } else {
      owner_->on_pipe_failed(*this, static_cast<int>(nread), true);
    }
    return;
  }
  bytes_ += static_cast<std::uint64_t>(nread);
  auto* sink = reinterpret_cast<uv_stream_t*>(sink_);
  uv_buf_t data = uv_buf_init(buf->base, static_cast<unsigned>(nread));
  // Most writes complete at once; only what the kernel did not take waits for the sink.
  int written = uv_try_write(sink, &data, 1);
  if (written == nread) {
    pool_->give(buf->base);
    return;
  }
  if (written < 0 && written != UV_EAGAIN) {
    pool_->give(buf->base);
    uv_read_stop(reinterpret_cast<uv_stream_t*>(source_));
    owner_->on_pipe_failed(*this, written, false);
    return;
  }
  std::size_t done = written > 0 ? static_cast<std::size_t>(written) : 0;
  uv_buf_t rest = uv_buf_init(buf->base + done, static_cast<unsigned>(nread - static_cast<ssize_t>(done)));
  in_flight_ = buf->base;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(source_));  // backpressure
  int status = uv_write(&write_req_, sink, &rest, 1, on_write);
  if (status < 0) {
    pool_->give(in_flight_);
    in_flight_ = nullptr;
    owner_->on_pipe_failed(*this, status, false);
  }
}

void Pipe::on_write(uv_write_t* req, int status) {
  auto* self = static_cast<Pipe*>(req->data);
  self->pool_->give(self->in_flight_);
  self->in_flight_ = nullptr;
  if (status == UV_ECANCELED) return;  // the connection is closing
  if (status < 0) {
    self->owner_->on_pipe_failed(*self, status, false);
    return;
  }
  status = uv_read_start(reinterpret_cast<uv_stream_t*>(self->source_), on_alloc, on_read);
  if (status < 0) self->owner_->on_pipe_failed(*self, status, true);
}

void Pipe::shut_sink() {
  // uv_shutdown waits for queued writes, so the FIN follows the last byte.
  int status = uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(sink_), on_shutdown);
  if (status < 0) owner_->on_pipe_failed(*this, status, false);
}

void Pipe::on_shutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<Pipe*>(req->data);
  if (status == UV_ECANCELED) return;
  if (status < 0) {
    // The sink is gone (ENOTCONN after a reset): nothing more can be delivered.
    self->owner_->on_pipe_failed(*self, status, false);
    return;
  }
  self->shutdown_done_ = true;
  self->owner_->on_pipe_finished(*self);
}

}  // namespace passthru::core
