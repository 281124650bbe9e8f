#include "connection.hpp"

#include <spdlog/spdlog.h>

#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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
      dialer_(*this, worker.loop(), worker.relay_poller()),
      relay_(*this, worker.relay_poller(), worker.pipe_pool(), worker.relay_pool()) {}

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
  // TCP_NODELAY came from the listener. The local address is asked for only if a PROXY header
  // needs it (write_proxy_header): each call here is paid by every connection.
  int length = sizeof self->peer_;
  uv_tcp_getpeername(&self->client_, self->peer_.get(), &length);
  unmap_ipv4(self->peer_);
  self->client_address_ = self->peer_;
  uv_timer_start(&self->timer_, on_timer, self->server_.timeout_ms, 0);
  self->read_at_once();
}

void Connection::read_at_once() {
  // A client usually sends its first bytes right after connecting, and by the time passthru
  // accepts, they are often here already. Reading them now spares the socket a round through
  // the loop's epoll set (registering it, a wake-up, taking it out again for the relay).
  uv_os_fd_t fd = -1;
  uv_fileno(handle(&client_), &fd);
  uv_buf_t space = sniff_.free_space();
  ssize_t n;
  do {
    n = ::read(fd, space.base, space.len);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) {
    sniff_.release();  // nothing yet: hold no buffer while the client is silent
  } else {
    sniffed(n > 0 ? n : n == 0 ? UV_EOF : -errno);  // libuv's codes are negated errno values
  }
  if (stage_ != Stage::Sniffing || client_eof_) return;
  int status = uv_read_start(stream(&client_), on_sniff_alloc, on_sniff_read);
  if (status < 0) {
    last_error_ = status;
    close(CloseReason::ClientError);
    return;
  }
  client_in_loop_ = true;
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
                                         peer_.get());
  if (decision.kind == Decision::Kind::Pending) return;
  uv_read_stop(stream(&client_));  // nothing to do if it never read through libuv
  uv_timer_stop(&timer_);
  apply(decision);
}

void Connection::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  if (self->stage_ != Stage::Sniffing) return;
  uv_read_stop(stream(&self->client_));
  self->apply(self->detection_.on_timeout());
}

void Connection::apply(const Decision& decision) {
  decision_ = decision;
  const auto& adopted = detection_.unwrapped().adopted;
  if (adopted.present) {
    client_address_ = IpAddress::from(adopted.source);
    local_ = IpAddress::from(adopted.destination);
  }
  if (!decision.action) {
    close(CloseReason::NoRoute);
    return;
  }
  switch (decision.action->kind) {
    case ActionKind::Reject:
    case ActionKind::Unwrap:  // never final: Detection goes on after the header
      close(CloseReason::Rejected);
      return;
    case ActionKind::Demux: {
      if (client_eof_) {
        close(CloseReason::Done);
        return;
      }
      stage_ = Stage::Tunneling;
      auto index = static_cast<std::uint32_t>(decision.protocol - server_.protocols.data());
      TunnelOwner& owner = *this;
      tunnel_ = std::make_unique<Tunnel>(owner, worker_, server_, *decision.action, index, &client_,
                                         client_address_.get());
      tunneling_ = true;
      ++pending_;
      auto sniffed = sniff_.bytes().subspan(detection_.unwrapped().offset);
      tunnel_->start(sniffed);
      sniff_.release();  // the tunnel has decoded these bytes
      return;
    }
    case ActionKind::Forward:
      stage_ = Stage::Connecting;
      dialing_ = true;
      ++pending_;
      dialer_.dial(decision.action->to, server_.connect_timeout_ms);
      return;
  }
}

// ---- Reaching the backend ----------------------------------------------------------------------

void Connection::on_dialed(int status) {
  if (stage_ != Stage::Connecting) return;
  if (status < 0) {
    last_error_ = status;
    close(dialer_.resolve_failed() ? CloseReason::ResolveFailed
          : status == UV_ETIMEDOUT ? CloseReason::ConnectTimeout
                                   : CloseReason::ConnectFailed);
    return;
  }
  stage_ = Stage::Flushing;
  proxy_header_ = write_proxy_header();
  dialer_.forward_events_to(this);  // the backend's events come to on_events() while flushing
  flush();
}

void Connection::on_events(std::uint32_t events) {
  if (stage_ == Stage::Flushing && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) flush();
}

void Connection::flush() {
  // A PROXY header first if the rule asks for one, then the bytes the detectors saw (less any
  // header an UNWRAP rule stripped), before anything else from the client.
  std::uint32_t offset = detection_.unwrapped().offset;
  uv_buf_t sniffed = sniff_.contents();
  iovec parts[2] = {{proxy_header_.data(), proxy_header_.size()}, {sniffed.base + offset, sniffed.len - offset}};
  std::size_t skip = flushed_;  // what earlier writes took
  std::size_t left = 0;
  for (iovec& part : parts) {
    std::size_t taken = std::min(skip, part.iov_len);
    part.iov_base = static_cast<char*>(part.iov_base) + taken;
    part.iov_len -= taken;
    skip -= taken;
    left += part.iov_len;
  }
  if (left > 0) {
    ssize_t n;
    do {
      n = writev(dialer_.fd(), parts, 2);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;  // the backend's next EPOLLOUT goes on
    if (n < 0) {
      last_error_ = -errno;  // libuv's codes are negated errno values
      close(CloseReason::BackendError, true, false);
      return;
    }
    flushed_ += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < left) return;  // the socket is full: on at its next EPOLLOUT
  }
  relay_.count_up(sniffed.len - offset);
  sniff_.release();
  start_relay();
}

std::string Connection::write_proxy_header() const {
  const ProxySend& send = decision_.action->send_proxy;
  if (send.version == ProxyVersion::None) return {};
  ProxyTlvs tlvs;
  tlvs.authority = decision_.facts.authority();
  tlvs.alpn = decision_.facts.alpn_first();
  char unique_id[32];
  if (send.unique_id) {
    thread_local std::mt19937_64 random{std::random_device{}()};
    static constexpr char kDigits[] = "0123456789abcdef";
    for (char& c : unique_id) c = kDigits[random() & 0x0F];
    tlvs.unique_id = {unique_id, sizeof unique_id};
  }
  IpAddress local = local_;
  if (local.any.sa_family == AF_UNSPEC) {  // no trusted header gave one: the address we were reached at
    int length = sizeof local;
    uv_tcp_getsockname(&client_, local.get(), &length);
    unmap_ipv4(local);
  }
  return passthru::core::write_proxy_header(send, client_address_.get(), local.get(), tlvs);
}

void Connection::start_relay() {
  stage_ = Stage::Relaying;
  dialer_.forward_events_to(&relay_.backend_events());
  relay_.start(&client_, client_in_loop_, dialer_.fd(), dialer_.readable_seen(), client_eof_);
}

// ---- Relay events ------------------------------------------------------------------------------

void Connection::on_relay_finished() { close(CloseReason::Done); }

void Connection::on_relay_failed(bool client_side, int status) {
  last_error_ = status;
  bool reset = status == UV_ECONNRESET;
  // Whichever side failed, the other is reset: it must not take a truncated stream for a
  // complete one.
  if (client_side)
    close(reset ? CloseReason::ClientReset : CloseReason::ClientError, false, true);
  else
    close(reset ? CloseReason::BackendReset : CloseReason::BackendError, true, false);
}

// ---- Tunnel events -----------------------------------------------------------------------------

void Connection::on_tunnel_finished(CloseReason reason, int status) {
  last_error_ = status;
  close(reason);  // a FIN, so that what was sent before (error messages) still arrives
}

void Connection::on_tunnel_closed() {
  --pending_;
  finish();
}

// ---- Ending ------------------------------------------------------------------------------------

void Connection::close(CloseReason reason, bool reset_client, bool reset_backend) {
  if (stage_ == Stage::Closing) return;
  stage_ = Stage::Closing;
  reason_ = reason;
  ++pending_;  // hold on while the parts below report, some of them at once
  relay_.stop();  // before its sockets close
  close_handle(handle(&timer_), false);
  if (tunneling_) tunnel_->close();
  close_handle(handle(&client_), reset_client);
  if (dialing_) dialer_.close(reset_backend);
  --pending_;
  finish();
}

void Connection::on_dialer_closed() {
  --pending_;
  finish();
}

void Connection::close_handle(uv_handle_t* h, bool reset) {
  h->data = this;  // the tunnel had pointed it at itself
  if (reset && h->type == UV_TCP &&
      uv_tcp_close_reset(reinterpret_cast<uv_tcp_t*>(h), on_closed) == 0)
    return;
  uv_close(h, on_closed);
}

void Connection::on_closed(uv_handle_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  --self->pending_;
  self->finish();
}

void Connection::finish() {
  if (pending_ > 0) return;
  log_end();
  sniff_.release();
  worker_.remove(this);
  delete this;
}

void Connection::log_end() const {
  if (!spdlog::should_log(spdlog::level::info)) return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  std::string line = "client=" + format_address(client_address_.get());
  if (std::memcmp(&client_address_, &peer_, sizeof peer_) != 0)  // both zero-filled beyond their family
    line += " via=" + format_address(peer_.get());  // the trusted proxy
  line += " listener=" + listener_.name;
  line += detection_.unwrapped().facts.to_log();
  const char* protocol = decision_.protocol ? decision_.protocol->name.c_str() : "-";
  line += " protocol=";
  line += protocol;
  if (decision_.kind == Decision::Kind::ServerCatchall) {
    line += std::string(" rule=CATCHALL fallback=") + to_token(decision_.fallback);
  } else if (decision_.action) {
    line += " rule=\"" + decision_.action->rule + "\"";
  }
  line += decision_.facts.to_log();
  std::uint64_t up = relay_.bytes_up();
  std::uint64_t down = relay_.bytes_down();
  if (!decision_.action) {
    if (decision_.kind != Decision::Kind::Pending) line += " action=REJECT";
  } else if (decision_.action->kind == ActionKind::Forward) {
    line += " action=FORWARD target=" + decision_.action->to.to_string();
  } else if (decision_.action->kind == ActionKind::Demux) {
    line += " action=DEMUX streams=" + std::to_string(tunnel_->streams_opened());
    up = tunnel_->bytes_in();
    down = tunnel_->bytes_out();
  } else {
    line += " action=REJECT";
  }
  line += " bytes_up=" + std::to_string(up) + " bytes_down=" + std::to_string(down) +
          " duration_ms=" + std::to_string(ms.count()) + " end=" + token(reason_);
  if (last_error_) line += std::string(" error=") + uv_err_name(last_error_);
  if (tunnel_ && !tunnel_->protocol_error().empty()) line += " protocol_error=\"" + tunnel_->protocol_error() + "\"";
  spdlog::info("{}", line);
}

}  // namespace passthru::core
