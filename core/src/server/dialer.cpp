#include "dialer.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51  // Linux 6.3
#endif

namespace passthru::core {

namespace {
// Every connection passthru ends first leaves a TIME_WAIT entry on its local port for a minute.
// connect() looks for a free ephemeral port among every other one (the other half is kept for
// bind(), so that programs asking for any free port still find one), and a port in TIME_WAIT is
// reused only after a second. So past several thousand backend connections a second, most even
// ports are too young and the search took 40% of passthru's CPU. A per-socket range, even one
// as wide as the system's, makes the kernel walk every port in turn instead, and each has been
// free for twice as long. It leaves bind() no half of its own, so it is set only while this
// worker is that busy. Older kernels refuse the option; their search then stays as it was.
constexpr std::uint32_t kBusyConnectsPerSecond = 4000;

bool connecting_fast(uv_loop_t* loop) {
  // Per worker thread, as each worker has its own loop: nothing shared.
  thread_local std::uint64_t second_started = 0;
  thread_local std::uint32_t this_second = 0;
  thread_local bool fast = false;
  std::uint64_t now = uv_now(loop);
  if (now - second_started >= 1000) {
    fast = this_second >= kBusyConnectsPerSecond;  // judged by the last full second
    second_started = now;
    this_second = 0;
  }
  ++this_second;
  return fast;
}

void search_every_ephemeral_port(int fd) {
  unsigned range = 1u | (65535u << 16);  // low | high << 16, clamped to the system's range
  setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof range);
}
}  // namespace

void Dialer::dial(const Endpoint& to, std::uint32_t timeout_ms) {
  to_ = &to;
  timeout_ms_ = timeout_ms;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  timer_open_ = true;
  ++pending_;
  if (to.is_literal) {
    connect_next();
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_req_.data = this;
  std::string port = std::to_string(to.port);
  int status = uv_getaddrinfo(loop_, &resolve_req_, on_resolved, to.host.c_str(), port.c_str(), &hints);
  if (status < 0) {
    resolve_failed_ = true;
    fail(status);
    return;
  }
  resolving_ = true;
  ++pending_;
}

void Dialer::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
  auto* self = static_cast<Dialer*>(req->data);
  self->resolving_ = false;
  --self->pending_;
  if (self->closing_) {
    if (result) uv_freeaddrinfo(result);
    self->maybe_closed();
    return;
  }
  if (status < 0) {
    self->resolve_failed_ = true;
    self->fail(status);
    return;
  }
  self->addresses_ = result;
  self->next_address_ = result;
  self->connect_next();
}

void Dialer::connect_next() {
  const sockaddr* target = nullptr;
  if (to_->is_literal) {
    if (!literal_tried_) target = reinterpret_cast<const sockaddr*>(&to_->address);
    literal_tried_ = true;
  } else {
    while (next_address_ && !target) {
      addrinfo* candidate = next_address_;
      next_address_ = candidate->ai_next;
      if (candidate->ai_family == AF_INET || candidate->ai_family == AF_INET6) target = candidate->ai_addr;
    }
  }
  if (!target) {
    fail(last_error_);
    return;
  }
  fd_ = socket(target->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {  // out of descriptors
    fail(-errno);
    return;
  }
  int on = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // relayed bytes go out as they come
  if (connecting_fast(loop_)) search_every_ephemeral_port(fd_);
  if (connect(fd_, target, address_length(target)) != 0 && errno != EINPROGRESS) {
    retry(-errno);
    return;
  }
  int status = poller_->watch(fd_, this, false);  // told at once if the connect is already done
  if (status < 0) {
    retry(status);
    return;
  }
  uv_timer_start(&timer_, on_timer, timeout_ms_, 0);
}

void Dialer::on_events(std::uint32_t events) {
  if (closing_ || fd_ < 0) return;  // closed by an event earlier in the same batch
  constexpr std::uint32_t kMayRead = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  if (connected_) {
    if (events & kMayRead) readable_seen_ = true;  // for a relay that starts later
    if (forward_to_) forward_to_->on_events(events);
    return;
  }
  if (events & EPOLLERR) {  // refused, unreachable...: SO_ERROR says which
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
    retry(error ? -error : UV_ECONNREFUSED);
    return;
  }
  if (!(events & EPOLLOUT)) return;
  connected_ = true;
  readable_seen_ = (events & kMayRead) != 0;
  uv_timer_stop(&timer_);
  owner_->on_dialed(0);
}

uv_tcp_t* Dialer::tcp_in_loop() {
  poller_->forget(fd_);
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  if (uv_tcp_open(&tcp_, fd_) == 0) fd_ = -1;  // the handle closes it now
  tcp_open_ = true;
  ++pending_;
  return &tcp_;
}

void Dialer::on_timer(uv_timer_t* timer) { static_cast<Dialer*>(timer->data)->retry(UV_ETIMEDOUT); }

void Dialer::retry(int status) {
  last_error_ = status;
  uv_timer_stop(&timer_);
  close_socket(false);
  connect_next();
}

void Dialer::close_socket(bool reset) {
  if (fd_ < 0) return;
  if (reset) {  // as uv_tcp_close_reset does: RST instead of FIN
    linger now{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &now, sizeof now);
  }
  ::close(fd_);  // which also takes it out of the RelayPoller
  fd_ = -1;
}

void Dialer::fail(int status) {
  last_error_ = status;
  owner_->on_dialed(status);
}

void Dialer::close(bool reset) {
  if (closing_) return;
  closing_ = true;
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
  if (timer_open_) {
    timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
  }
  if (tcp_open_) {
    tcp_open_ = false;
    tcp_.data = this;  // its owner may have pointed it elsewhere
    if (!reset || uv_tcp_close_reset(&tcp_, on_closed) != 0) uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_closed);
  }
  close_socket(reset);
  maybe_closed();
}

void Dialer::on_closed(uv_handle_t* handle) {
  auto* self = static_cast<Dialer*>(handle->data);
  --self->pending_;
  self->maybe_closed();
}

void Dialer::maybe_closed() {
  if (!closing_ || pending_ > 0 || closed_told_) return;
  closed_told_ = true;
  if (addresses_) uv_freeaddrinfo(addresses_);
  addresses_ = nullptr;
  owner_->on_dialer_closed();
}

}  // namespace passthru::core
