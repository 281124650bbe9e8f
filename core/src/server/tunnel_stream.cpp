#include "tunnel_stream.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "tunnel.hpp"
#include "worker.hpp"

namespace passthru::core {

using passthru::mproxy::Kind;

namespace {

/// The stream's client address, from its metadata ("IPv4", "10.0.0.1", "5555").
sockaddr_storage address_of(const passthru::mproxy::Meta& meta) {
  sockaddr_storage out{};
  unsigned port = meta.port.empty() ? 0 : static_cast<unsigned>(std::stoul(meta.port));
  if (meta.family == "IPv4") {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, meta.address.c_str(), &v4->sin_addr);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET6, meta.address.c_str(), &v6->sin6_addr);
  }
  unmap_ipv4(out);
  return out;
}

uv_stream_t* stream_of(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }

}  // namespace

/// Bytes on their way to the backend.
struct TunnelStream::Write {
  uv_write_t req{};
  std::string bytes;
  TunnelStream* stream = nullptr;
};

TunnelStream::TunnelStream(Tunnel& tunnel, passthru::mproxy::Meta meta)
    : tunnel_(tunnel),
      meta_(std::move(meta)),
      address_(address_of(meta_)),
      started_(std::chrono::steady_clock::now()),
      detection_(tunnel.server()),
      dialer_(*this, tunnel.worker().loop(), tunnel.worker().relay_poller()) {
  detection_.skip(tunnel.mproxy_index());  // a stream is not itself a tunnel
}

void TunnelStream::start() {
  // The MPROXY table's own rules on the stream's metadata first, if one names it.
  const ProtocolTable& table = tunnel_.server().protocols[tunnel_.mproxy_index()];
  passthru::sdk::Facts facts;
  if (!meta_.name.empty()) facts.add("name", meta_.name);
  if (!meta_.service.empty()) facts.add("service", meta_.service);
  if (!meta_.serviceport.empty()) facts.add("serviceport", meta_.serviceport);
  auto rule = table.protocol->select_rule(facts);
  if (!rule || *rule >= table.actions.size()) return;
  const Action& action = table.actions[*rule];
  if (action.rule == "CATCHALL" || (action.kind != ActionKind::Forward && action.kind != ActionKind::Reject)) return;
  Decision d;
  d.kind = Decision::Kind::Rule;
  d.protocol = &table;
  d.action = &action;
  d.facts = FactList(facts);
  decide(d);
}

void TunnelStream::data(std::string&& body) {
  bytes_up_ += body.size();
  switch (stage_) {
    case Stage::Detecting: {
      pending_ += body;
      std::size_t cap = tunnel_.server().max_sniff_bytes;
      bool full = pending_.size() >= cap;
      auto bytes = passthru::sdk::ByteSpan(reinterpret_cast<const std::uint8_t*>(pending_.data()),
                                           std::min(pending_.size(), cap));
      Decision d = detection_.advance(bytes, false, full, reinterpret_cast<const sockaddr*>(&address_));
      if (d.kind != Decision::Kind::Pending) decide(d);
      return;
    }
    case Stage::Dialing:
      pending_ += body;
      if (!holding_ && pending_.size() > tunnel_.demux().demux.max_stream_buffer) {
        holding_ = true;
        tunnel_.hold_reading(true);
      }
      return;
    case Stage::Open:
      write_to_backend(std::move(body));
      return;
    case Stage::Closing:
      return;
  }
}

void TunnelStream::decide(const Decision& decision) {
  decision_ = decision;
  if (!decision.action || decision.action->kind != ActionKind::Forward) {
    reason_ = decision.action ? CloseReason::Rejected : CloseReason::NoRoute;
    tunnel_.send(Kind::Error, meta_, R"({"message":"no route for this stream","code":"E_REJECTED"})");
    close(reason_, false);
    return;
  }
  stage_ = Stage::Dialing;
  dialing_ = true;
  dialer_.dial(decision.action->to, tunnel_.server().connect_timeout_ms);
}

void TunnelStream::on_dialed(int status) {
  if (stage_ == Stage::Closing) return;
  if (status < 0) {
    fail(dialer_.resolve_failed() ? CloseReason::ResolveFailed
         : status == UV_ETIMEDOUT ? CloseReason::ConnectTimeout
                                  : CloseReason::ConnectFailed,
         status, "E_CONNECT");
    return;
  }
  stage_ = Stage::Open;
  uv_tcp_t* backend = dialer_.tcp_in_loop();  // read and written through libuv from now on
  backend->data = this;
  const auto& send = decision_.action->send_proxy;
  if (send.version != ProxyVersion::None) {
    passthru::wire::ProxyTlvs tlvs;
    tlvs.authority = meta_.name;
    write_to_backend(write_proxy_header(send, reinterpret_cast<const sockaddr*>(&address_), tunnel_.client_address(), tlvs));
  }
  if (!pending_.empty()) write_to_backend(std::move(pending_));
  pending_.clear();
  if (holding_) {
    holding_ = false;
    tunnel_.hold_reading(false);
  }
  if (peer_ended_) {
    shutdown_req_.data = this;
    uv_shutdown(&shutdown_req_, stream_of(backend), on_shutdown);
  }
  update_backend_reading();
}

void TunnelStream::write_to_backend(std::string&& bytes) {
  if (bytes.empty()) return;
  auto* w = new Write;
  w->bytes = std::move(bytes);
  w->stream = this;
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  queued_ += w->bytes.size();
  if (uv_write(&w->req, stream_of(dialer_.tcp()), &buf, 1, on_written) < 0) {
    queued_ -= w->bytes.size();
    delete w;
    fail(CloseReason::BackendError, UV_EPIPE, "E_WRITE");
    return;
  }
  std::size_t limit = tunnel_.demux().demux.max_stream_buffer;
  if (!asked_pause_ && queued_ > limit) {
    asked_pause_ = true;  // ask the client to stop sending for this stream
    tunnel_.send(Kind::Pause, meta_, std::to_string(bytes_up_));
  }
  if (!holding_ && queued_ > 4 * limit) {
    holding_ = true;  // it did not: stop reading the tunnel until this stream drains
    tunnel_.hold_reading(true);
  }
}

void TunnelStream::on_written(uv_write_t* req, int status) {
  auto* w = static_cast<Write*>(req->data);
  TunnelStream* self = w->stream;
  self->queued_ -= w->bytes.size();
  delete w;
  if (status == UV_ECANCELED || self->stage_ == Stage::Closing) return;
  if (status < 0) {
    self->fail(status == UV_ECONNRESET ? CloseReason::BackendReset : CloseReason::BackendError, status, "E_WRITE");
    return;
  }
  std::size_t limit = self->tunnel_.demux().demux.max_stream_buffer;
  if (self->holding_ && self->queued_ <= limit) {
    self->holding_ = false;
    self->tunnel_.hold_reading(false);
  }
  if (self->asked_pause_ && self->queued_ <= limit / 2) {
    self->asked_pause_ = false;
    self->tunnel_.send(Kind::Resume, self->meta_, std::to_string(self->bytes_up_));
  }
}

void TunnelStream::update_backend_reading() {
  if (stage_ != Stage::Open) return;
  bool want = !peer_paused_ && !throttled_;
  if (want == reading_) return;
  reading_ = want;
  if (want) uv_read_start(stream_of(dialer_.tcp()), on_alloc, on_read);
  else uv_read_stop(stream_of(dialer_.tcp()));
}

void TunnelStream::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto& pool = static_cast<TunnelStream*>(handle->data)->tunnel_.worker().relay_pool();
  *buf = uv_buf_init(pool.take(), static_cast<unsigned>(pool.buffer_size()));
}

void TunnelStream::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<TunnelStream*>(stream->data);
  if (nread > 0) {
    self->bytes_down_ += static_cast<std::uint64_t>(nread);
    self->tunnel_.send(Kind::Data, self->meta_, {buf->base, static_cast<std::size_t>(nread)});
  }
  self->tunnel_.worker().relay_pool().give(buf->base);
  if (nread == UV_EOF) {
    // The backend finished: so does the stream (M-PROXY has no half-close).
    self->tunnel_.send(Kind::End, self->meta_, "");
    self->close(CloseReason::Done, false);
  } else if (nread < 0) {
    self->fail(nread == UV_ECONNRESET ? CloseReason::BackendReset : CloseReason::BackendError, static_cast<int>(nread),
               "E_READ");
  }
}

void TunnelStream::on_shutdown(uv_shutdown_t*, int) {}

void TunnelStream::peer_end() {
  peer_ended_ = true;
  if (stage_ == Stage::Detecting) {
    auto bytes = passthru::sdk::ByteSpan(reinterpret_cast<const std::uint8_t*>(pending_.data()), pending_.size());
    decide(detection_.advance(bytes, true, false, reinterpret_cast<const sockaddr*>(&address_)));
  } else if (stage_ == Stage::Open) {
    // The client is done sending: a FIN after the last byte; the backend's answer still comes back.
    shutdown_req_.data = this;
    uv_shutdown(&shutdown_req_, stream_of(dialer_.tcp()), on_shutdown);
  }
}

void TunnelStream::peer_error() { close(CloseReason::ClientReset, true); }

void TunnelStream::peer_pause(bool pause) {
  peer_paused_ = pause;
  update_backend_reading();
}

void TunnelStream::throttle(bool full) {
  throttled_ = full;
  update_backend_reading();
}

void TunnelStream::fail(CloseReason reason, int status, const char* code) {
  last_error_ = status;
  std::string body = std::string(R"({"message":")") + uv_strerror(status) + R"(","code":")" + code + "\"}";
  tunnel_.send(Kind::Error, meta_, body);
  close(reason, true);
}

void TunnelStream::close(CloseReason reason, bool reset) {
  if (stage_ == Stage::Closing) return;
  if (reason_ == CloseReason::Done) reason_ = reason;
  stage_ = Stage::Closing;
  if (holding_) {
    holding_ = false;
    tunnel_.hold_reading(false);
  }
  log_end();
  dialer_.close(reset);  // on_dialer_closed() follows, perhaps at once: nothing may follow this
}

void TunnelStream::on_dialer_closed() { tunnel_.stream_closed(this); }

void TunnelStream::log_end() const {
  if (!spdlog::should_log(spdlog::level::info)) return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  std::string line = "client=" + format_address(reinterpret_cast<const sockaddr*>(&address_)) +
                     " via=" + format_address(tunnel_.client_address()) + " stream=" + meta_.id();
  line += std::string(" protocol=") + (decision_.protocol ? decision_.protocol->name.c_str() : "-");
  if (decision_.kind == Decision::Kind::ServerCatchall)
    line += std::string(" rule=CATCHALL fallback=") + to_token(decision_.fallback);
  else if (decision_.action)
    line += " rule=\"" + decision_.action->rule + "\"";
  line += decision_.facts.to_log();
  if (decision_.action && decision_.action->kind == ActionKind::Forward)
    line += " action=FORWARD target=" + decision_.action->to.to_string();
  else if (decision_.kind != Decision::Kind::Pending)
    line += " action=REJECT";
  line += " bytes_up=" + std::to_string(bytes_up_) + " bytes_down=" + std::to_string(bytes_down_) +
          " duration_ms=" + std::to_string(ms.count()) + " end=" + token(reason_);
  if (last_error_) line += std::string(" error=") + uv_err_name(last_error_);
  spdlog::info("{}", line);
}

}  // namespace passthru::core
