#include "tunnel.hpp"

#include <spdlog/spdlog.h>

#include "tunnel_stream.hpp"
#include "worker.hpp"

namespace passthru::core {

using passthru::mproxy::Kind;

namespace {
constexpr std::size_t kOutputHigh = 1024 * 1024;  // stop the streams' backends above this
constexpr std::size_t kOutputLow = 256 * 1024;    // and start them again below this
}  // namespace

/// One message on its way to the client.
struct Tunnel::Out {
  uv_write_t req{};
  std::string bytes;
  Tunnel* tunnel = nullptr;
};

Tunnel::Tunnel(TunnelOwner& owner, Worker& worker, const ServerConfig& server, const Action& demux,
               std::uint32_t mproxy_index, uv_tcp_t* client, const sockaddr* client_address)
    : owner_(owner),
      worker_(worker),
      server_(server),
      demux_(demux),
      mproxy_index_(mproxy_index),
      client_(client),
      client_address_(client_address),
      decoder_(demux.demux.max_message_bytes) {}

Tunnel::~Tunnel() = default;

void Tunnel::start(passthru::sdk::ByteSpan already_read) {
  client_->data = this;
  received(passthru::sdk::as_chars(already_read));
  update_reading();
}

void Tunnel::update_reading() {
  bool want = !closing_ && !finished_ && holds_ == 0;
  if (want == reading_) return;
  reading_ = want;
  auto* stream = reinterpret_cast<uv_stream_t*>(client_);
  if (want) uv_read_start(stream, on_alloc, on_read);
  else uv_read_stop(stream);
}

void Tunnel::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto& pool = static_cast<Tunnel*>(handle->data)->worker_.relay_pool();
  *buf = uv_buf_init(pool.take(), static_cast<unsigned>(pool.buffer_size()));
}

void Tunnel::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Tunnel*>(stream->data);
  self->bury();
  if (nread > 0) self->received({buf->base, static_cast<std::size_t>(nread)});
  self->worker_.relay_pool().give(buf->base);
  if (nread < 0 && !self->finished_) {
    self->finished_ = true;
    self->update_reading();
    // The client's EOF ends the tunnel: it has no half-close, and its streams end with it.
    self->owner_.on_tunnel_finished(nread == UV_EOF ? CloseReason::Done
                                    : nread == UV_ECONNRESET ? CloseReason::ClientReset
                                                             : CloseReason::ClientError,
                                    nread == UV_EOF ? 0 : static_cast<int>(nread));
  }
}

void Tunnel::received(std::string_view bytes) {
  if (finished_ || closing_) return;
  bytes_in_ += bytes.size();
  bool ok = decoder_.feed(bytes, [this](passthru::mproxy::Message&& m) {
    if (!finished_ && !closing_) dispatch(std::move(m));
  });
  if (!ok && !finished_) {
    protocol_error_ = decoder_.error();
    finished_ = true;
    update_reading();
    owner_.on_tunnel_finished(CloseReason::ProtocolError, 0);
  }
}

void Tunnel::dispatch(passthru::mproxy::Message&& m) {
  if (m.kind == Kind::Control) {
    // Commands (the relay's hello, grants) need no answer from an endpoint; a body that is not a
    // JSON array is not M-PROXY.
    if (m.body.empty() || m.body.front() != '[' || m.body.back() != ']') {
      protocol_error_ = "a control message whose body is not a JSON array";
      finished_ = true;
      update_reading();
      owner_.on_tunnel_finished(CloseReason::ProtocolError, 0);
    }
    return;
  }
  std::string id = m.meta.id();
  auto it = streams_.find(id);
  TunnelStream* stream = it == streams_.end() ? nullptr : it->second.get();
  switch (m.kind) {
    case Kind::Connection:
      if (stream) {
        send(Kind::Error, m.meta, R"({"message":"this stream is already open","code":"E_CONN_EXISTS"})");
      } else if (streams_.size() >= demux_.demux.max_streams) {
        send(Kind::Error, m.meta, R"({"message":"too many streams in this tunnel","code":"E_TOO_MANY_STREAMS"})");
      } else {
        auto created = std::make_unique<TunnelStream>(*this, m.meta);
        TunnelStream* raw = created.get();
        streams_.emplace(id, std::move(created));
        ++streams_opened_;
        raw->start();
        if (output_full_) raw->throttle(true);
      }
      return;
    case Kind::Data:
      if (!stream) send(Kind::Error, m.meta, R"({"message":"no matching connection","code":"E_NO_CONN"})");
      else stream->data(std::move(m.body));
      return;
    case Kind::End:
      if (stream) stream->peer_end();
      return;
    case Kind::Error:
      if (stream) stream->peer_error();
      return;
    case Kind::Pause:
    case Kind::Resume:
      if (stream) stream->peer_pause(m.kind == Kind::Pause);
      return;
    case Kind::Control:
      return;
  }
}

void Tunnel::send(Kind kind, const passthru::mproxy::Meta& meta, std::string_view body) {
  if (closing_) return;
  std::string error;
  auto packed = passthru::mproxy::pack(kind, meta, body, false, error);
  if (!packed) {
    spdlog::warn("tunnel: cannot pack a {} message: {}", passthru::mproxy::to_string(kind), error);
    return;
  }
  auto* out = new Out;
  out->bytes = std::move(*packed);
  out->tunnel = this;
  out->req.data = out;
  uv_buf_t buf = uv_buf_init(out->bytes.data(), static_cast<unsigned>(out->bytes.size()));
  output_queued_ += out->bytes.size();
  bytes_out_ += out->bytes.size();
  if (uv_write(&out->req, reinterpret_cast<uv_stream_t*>(client_), &buf, 1, on_written) < 0) {
    output_queued_ -= out->bytes.size();
    delete out;
    return;
  }
  if (!output_full_ && output_queued_ > kOutputHigh) {
    output_full_ = true;
    for (auto& [key, s] : streams_) s->throttle(true);
  }
}

void Tunnel::on_written(uv_write_t* req, int status) {
  auto* out = static_cast<Out*>(req->data);
  Tunnel* self = out->tunnel;
  self->bury();
  self->output_queued_ -= out->bytes.size();
  delete out;
  if (status == UV_ECANCELED) return;  // the connection is closing
  if (status < 0 && !self->finished_) {
    self->finished_ = true;
    self->owner_.on_tunnel_finished(status == UV_ECONNRESET ? CloseReason::ClientReset : CloseReason::ClientError, status);
    return;
  }
  if (self->output_full_ && self->output_queued_ < kOutputLow) {
    self->output_full_ = false;
    for (auto& [key, s] : self->streams_) s->throttle(false);
  }
}

void Tunnel::hold_reading(bool hold) {
  holds_ += hold ? 1 : -1;
  update_reading();
}

void Tunnel::stream_closed(TunnelStream* stream) {
  if (auto it = streams_.find(stream->id()); it != streams_.end() && it->second.get() == stream) {
    closed_.push_back(std::move(it->second));
    streams_.erase(it);
  }
  maybe_closed();
}

void Tunnel::bury() { closed_.clear(); }

void Tunnel::close() {
  if (closing_) return;
  closing_ = true;
  update_reading();
  // Closing a stream may remove it from the map: walk a copy of the pointers.
  std::vector<TunnelStream*> open;
  for (auto& [key, s] : streams_) open.push_back(s.get());
  for (TunnelStream* s : open) s->close(CloseReason::Shutdown, true);
  maybe_closed();
}

void Tunnel::maybe_closed() {
  if (!closing_ || !streams_.empty() || closed_told_) return;
  closed_told_ = true;
  owner_.on_tunnel_closed();
}

}  // namespace passthru::core
