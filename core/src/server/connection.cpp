#include "connection.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

#include <random>
#include <string>

#include "worker.hpp"

namespace passthru::core {

namespace {
uv_stream_t* stream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }
uv_handle_t* handle(void* h) { return reinterpret_cast<uv_handle_t*>(h); }
}  // namespace

Connection::Connection(Worker& worker, Listener& listener)
    : worker_(worker),
      listener_(listener),
      server_(*listener.server),
      started_(std::chrono::steady_clock::now()),
      sniff_(*listener.sniff_pool),
      detection_(*listener.server),
      upstream_(*this, worker.relay_pool()),
      downstream_(*this, worker.relay_pool()) {}

void Connection::accept(Worker& worker, Listener& listener) {
  auto* self = new Connection(worker, listener);
  worker.add(self);
  uv_timer_init(worker.loop(), &self->timer_);
  self->timer_.data = self;
  uv_tcp_init(worker.loop(), &self->client_);
  self->client_.data = self;
  self->pending_ = 2;
  int status = uv_accept(reinterpret_cast<uv_stream_t*>(&listener.handle), stream(&self->client_));
  if (status < 0) {
    self->last_error_ = status;
    self->close(CloseReason::ClientError);
    return;
  }
  uv_tcp_nodelay(&self->client_, 1);
  int length = sizeof self->peer_;
  uv_tcp_getpeername(&self->client_, reinterpret_cast<sockaddr*>(&self->peer_), &length);
  length = sizeof self->local_;
  uv_tcp_getsockname(&self->client_, reinterpret_cast<sockaddr*>(&self->local_), &length);
  unmap_ipv4(self->peer_);
  unmap_ipv4(self->local_);
  self->client_address_ = self->peer_;
  uv_timer_start(&self->timer_, on_timer, self->server_.timeout_ms, 0);
  status = uv_read_start(stream(&self->client_), on_sniff_alloc, on_sniff_read);
  if (status < 0) {
    self->last_error_ = status;
    self->close(CloseReason::ClientError);
  }
}

// ---- Detection -------------------------------------------------------------------------------

void Connection::on_sniff_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  *buf = static_cast<Connection*>(h->data)->sniff_.free_space();
}

void Connection::on_sniff_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  static_cast<Connection*>(s->data)->sniffed(nread);
}

void Connection::sniffed(ssize_t nread) {
  if (nread == 0) return;
  if (nread == UV_EOF) {
    client_eof_ = true;
  } else if (nread < 0) {
    last_error_ = static_cast<int>(nread);
    close(nread == UV_ECONNRESET ? CloseReason::ClientReset : CloseReason::ClientError);
    return;
  } else {
    sniff_.commit(static_cast<std::size_t>(nread));
  }
  Decision decision = detection_.advance(sniff_.bytes(), client_eof_, sniff_.full(),
                                         reinterpret_cast<const sockaddr*>(&peer_));
  if (decision.kind == Decision::Kind::Pending) return;
  uv_read_stop(stream(&client_));
  uv_timer_stop(&timer_);
  apply(decision);
}

void Connection::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  if (self->stage_ == Stage::Sniffing) {
    uv_read_stop(stream(&self->client_));
    self->apply(self->detection_.on_timeout());
  } else if (self->stage_ == Stage::Connecting) {
    self->retry_connect(UV_ETIMEDOUT);
  }
}

void Connection::apply(const Decision& decision) {
  decision_ = decision;
  const auto& adopted = detection_.unwrapped().adopted;
  if (adopted.present) {
    client_address_ = adopted.source;
    local_ = adopted.destination;
  }
  if (!decision.action) {
    close(CloseReason::NoRoute);
  } else if (decision.action->kind == ActionKind::Reject) {
    close(CloseReason::Rejected);
  } else {
    resolve();
  }
}

// ---- Reaching the backend ----------------------------------------------------------------------

void Connection::resolve() {
  const Endpoint& to = decision_.action->to;
  if (to.is_literal) {
    stage_ = Stage::Connecting;
    connect_next();
    return;
  }
  stage_ = Stage::Resolving;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_req_.data = this;
  std::string port = std::to_string(to.port);
  // Runs getaddrinfo on libuv's thread pool: the loop never blocks on DNS.
  int status = uv_getaddrinfo(worker_.loop(), &resolve_req_, on_resolved, to.host.c_str(),
                              port.c_str(), &hints);
  if (status < 0) {
    last_error_ = status;
    close(CloseReason::ResolveFailed);
    return;
  }
  ++pending_;
}

void Connection::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
  auto* self = static_cast<Connection*>(req->data);
  --self->pending_;
  if (self->stage_ == Stage::Closing) {
    if (result) uv_freeaddrinfo(result);
    self->finish();
    return;
  }
  if (status < 0) {
    self->last_error_ = status;
    self->close(CloseReason::ResolveFailed);
    return;
  }
  self->addresses_ = result;
  self->next_address_ = result;
  self->stage_ = Stage::Connecting;
  self->connect_next();
}

void Connection::connect_next() {
  const sockaddr* target = nullptr;
  if (decision_.action->to.is_literal) {
    if (!literal_tried_) target = reinterpret_cast<const sockaddr*>(&decision_.action->to.address);
    literal_tried_ = true;
  } else {
    while (next_address_ && !target) {
      addrinfo* candidate = next_address_;
      next_address_ = candidate->ai_next;
      if (candidate->ai_family == AF_INET || candidate->ai_family == AF_INET6) target = candidate->ai_addr;
    }
  }
  if (!target) {
    close(last_error_ == UV_ETIMEDOUT ? CloseReason::ConnectTimeout : CloseReason::ConnectFailed);
    return;
  }
  uv_tcp_init(worker_.loop(), &backend_);
  backend_.data = this;
  backend_open_ = true;
  ++pending_;
  connect_req_.data = this;
  int status = uv_tcp_connect(&connect_req_, &backend_, target, on_connect);
  if (status < 0) {
    retry_connect(status);
    return;
  }
  uv_timer_start(&timer_, on_timer, server_.connect_timeout_ms, 0);
}

void Connection::on_connect(uv_connect_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  // Cancelled: the handle is being closed, for a retry or for good; the close path goes on.
  if (status == UV_ECANCELED || self->stage_ != Stage::Connecting) return;
  uv_timer_stop(&self->timer_);
  if (status < 0) {
    self->retry_connect(status);
    return;
  }
  uv_tcp_nodelay(&self->backend_, 1);
  self->stage_ = Stage::Flushing;
  // A PROXY header first if the rule asks for one, then the bytes the detectors saw (less any
  // header an UNWRAP rule stripped), before anything else from the client.
  self->proxy_header_ = self->write_proxy_header();
  std::uint32_t offset = self->detection_.unwrapped().offset;
  uv_buf_t sniffed = self->sniff_.contents();
  uv_buf_t parts[2] = {uv_buf_init(self->proxy_header_.data(), static_cast<unsigned>(self->proxy_header_.size())),
                       uv_buf_init(sniffed.base + offset, sniffed.len - offset)};
  if (parts[0].len + parts[1].len == 0) {
    self->start_relay();
    return;
  }
  self->flush_req_.data = self;
  status = uv_write(&self->flush_req_, stream(&self->backend_), parts, 2, on_flushed);
  if (status < 0) {
    self->last_error_ = status;
    self->close(CloseReason::BackendError, true, false);
  }
}

void Connection::retry_connect(int status) {
  last_error_ = status;
  uv_timer_stop(&timer_);
  spdlog::debug("client={} backend {} attempt failed: {}", format_address(reinterpret_cast<sockaddr*>(&peer_)),
                decision_.action->to.to_string(), uv_strerror(status));
  backend_open_ = false;
  uv_close(handle(&backend_), on_backend_closed_for_retry);
}

void Connection::on_backend_closed_for_retry(uv_handle_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  --self->pending_;
  if (self->stage_ == Stage::Closing) {
    self->finish();
    return;
  }
  self->connect_next();
}

void Connection::on_flushed(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  if (status == UV_ECANCELED || self->stage_ == Stage::Closing) return;
  if (status < 0) {
    self->last_error_ = status;
    self->close(CloseReason::BackendError, true, false);
    return;
  }
  self->upstream_.count(self->sniff_.size() - self->detection_.unwrapped().offset);
  self->sniff_.release();
  self->start_relay();
}

std::string Connection::write_proxy_header() const {
  const ProxySend& send = decision_.action->send_proxy;
  if (send.version == ProxyVersion::None) return {};
  ProxyTlvs tlvs;
  const auto& facts = decision_.facts;
  tlvs.authority = !facts.find("sni").empty() ? facts.find("sni") : facts.find("host");
  if (tlvs.authority == "(ambiguous)") tlvs.authority = {};
  tlvs.alpn = facts.find("alpn").substr(0, facts.find("alpn").find(','));  // the most preferred
  char unique_id[32];
  if (send.unique_id) {
    thread_local std::mt19937_64 random{std::random_device{}()};
    static constexpr char kDigits[] = "0123456789abcdef";
    for (char& c : unique_id) c = kDigits[random() & 0x0F];
    tlvs.unique_id = {unique_id, sizeof unique_id};
  }
  return passthru::core::write_proxy_header(send, reinterpret_cast<const sockaddr*>(&client_address_),
                                            reinterpret_cast<const sockaddr*>(&local_), tlvs);
}

void Connection::start_relay() {
  stage_ = Stage::Relaying;
  upstream_.start(&client_, &backend_, client_eof_);
  if (stage_ == Stage::Closing) return;
  downstream_.start(&backend_, &client_, false);
}

// ---- Relay events ------------------------------------------------------------------------------

void Connection::on_pipe_finished(Pipe&) {
  if (upstream_.finished() && downstream_.finished()) close(CloseReason::Done);
}

void Connection::on_pipe_failed(Pipe& pipe, int status, bool at_source) {
  last_error_ = status;
  // upstream reads the client and writes the backend; downstream the other way round.
  bool client_side = (&pipe == &upstream_) == at_source;
  bool reset = status == UV_ECONNRESET;
  // Whichever side failed, the other is reset: it must not take a truncated stream for a
  // complete one.
  if (client_side)
    close(reset ? CloseReason::ClientReset : CloseReason::ClientError, false, true);
  else
    close(reset ? CloseReason::BackendReset : CloseReason::BackendError, true, false);
}

// ---- Ending ------------------------------------------------------------------------------------

void Connection::close(CloseReason reason, bool reset_client, bool reset_backend) {
  if (stage_ == Stage::Closing) return;
  bool was_resolving = stage_ == Stage::Resolving;
  stage_ = Stage::Closing;
  reason_ = reason;
  if (was_resolving) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
  close_handle(&timer_, false);
  close_handle(&client_, reset_client);
  if (backend_open_) {
    backend_open_ = false;
    close_handle(&backend_, reset_backend);
  }
}

void Connection::close_handle(uv_handle_t* h, bool reset) {
  h->data = this;  // the pipes had pointed it at themselves
  if (reset && h->type == UV_TCP &&
      uv_tcp_close_reset(reinterpret_cast<uv_tcp_t*>(h), on_closed) == 0)
    return;
  uv_close(h, on_closed);
}

void Connection::close_handle(uv_tcp_t* tcp, bool reset) { close_handle(handle(tcp), reset); }
void Connection::close_handle(uv_timer_t* timer, bool reset) { close_handle(handle(timer), reset); }

void Connection::on_closed(uv_handle_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  --self->pending_;
  self->finish();
}

void Connection::finish() {
  if (pending_ > 0) return;
  log_end();
  if (addresses_) uv_freeaddrinfo(addresses_);
  sniff_.release();
  worker_.remove(this);
  delete this;
}

void Connection::log_end() const {
  if (!spdlog::should_log(spdlog::level::info)) return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  std::string line = "client=" + format_address(reinterpret_cast<const sockaddr*>(&client_address_));
  if (std::memcmp(&client_address_, &peer_, sizeof peer_) != 0)
    line += " via=" + format_address(reinterpret_cast<const sockaddr*>(&peer_));  // the trusted proxy
  line += " listener=" + listener_.name;
  const auto& header_facts = detection_.unwrapped().facts;
  for (std::size_t i = 0; i < header_facts.size(); ++i)
    line += std::string(" ") + header_facts.key(i) + "=" + std::string(header_facts.value(i));
  const char* protocol = decision_.protocol ? decision_.protocol->name.c_str() : "-";
  line += " protocol=";
  line += protocol;
  if (decision_.kind == Decision::Kind::ServerCatchall) {
    line += std::string(" rule=CATCHALL fallback=") + to_token(decision_.fallback);
  } else if (decision_.action) {
    line += " rule=\"" + decision_.action->rule + "\"";
  }
  for (std::size_t i = 0; i < decision_.facts.size(); ++i)
    line += std::string(" ") + decision_.facts.key(i) + "=" + std::string(decision_.facts.value(i));
  if (decision_.action) {
    bool forward = decision_.action->kind == ActionKind::Forward;
    line += forward ? " action=FORWARD target=" + decision_.action->to.to_string() : " action=REJECT";
  } else if (decision_.kind != Decision::Kind::Pending) {
    line += " action=REJECT";
  }
  line += " bytes_up=" + std::to_string(upstream_.bytes()) + " bytes_down=" +
          std::to_string(downstream_.bytes()) + " duration_ms=" + std::to_string(ms.count()) +
          " end=" + token(reason_);
  if (last_error_) line += std::string(" error=") + uv_err_name(last_error_);
  spdlog::info("{}", line);
}

}  // namespace passthru::core
