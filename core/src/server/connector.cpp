#include "connector.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "event_set.hpp"
#include "transparent.hpp"

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

bool out_of_descriptors(int error) { return error == -EMFILE || error == -ENFILE; }
}  // namespace

Connector::~Connector() {
  if (addresses_) uv_freeaddrinfo(addresses_);
}

void Connector::forget_target() noexcept {
  if (addresses_) uv_freeaddrinfo(addresses_);
  addresses_ = next_address_ = nullptr;
  to_ = nullptr;
  literal_ = nullptr;
  literal_tried_ = false;
  last_error_ = -ECONNREFUSED;
}

void Connector::connect(const sockaddr* to, std::uint32_t timeout_ms, ConnectFrom from) {
  forget_target();
  literal_ = to;
  from_ = from;
  timeout_ms_ = timeout_ms;
  active_ = true;
  if (addresses_allowed()) try_next();
}

void Connector::connect(const Endpoint& to, std::uint32_t timeout_ms, ConnectFrom from) {
  if (to.is_literal) {
    connect(reinterpret_cast<const sockaddr*>(&to.address), timeout_ms, from);
    return;
  }
  forget_target();
  to_ = &to;
  from_ = from;
  timeout_ms_ = timeout_ms;
  active_ = true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_.data = this;
  std::string port = std::to_string(to.port);
  int status = uv_getaddrinfo(loop_, &resolve_, on_resolved, to.host.c_str(), port.c_str(), &hints);
  if (status < 0) {
    fail(CloseReason::ResolveFailed, status);
    return;
  }
  resolving_ = true;
  lifeline_->hold();  // the request's memory is ours until its callback, even when cancelled
  deadline_->start(timeout_ms_, *this);
}

void Connector::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* result) {
  auto* self = static_cast<Connector*>(req->data);
  self->resolving_ = false;
  if (!self->active_) {
    if (result) uv_freeaddrinfo(result);
  } else if (status < 0) {
    self->fail(CloseReason::ResolveFailed, status);
  } else {
    self->addresses_ = result;
    self->next_address_ = result;
    if (self->addresses_allowed()) self->try_next();
  }
  self->lifeline_->release();  // last: it may let the owner go
}

bool Connector::addresses_allowed() {
  if (!allow_) return true;
  bool allowed = literal_ ? allow_->allows_address(literal_) : true;
  for (const addrinfo* a = addresses_; a && allowed; a = a->ai_next)
    if (a->ai_family == AF_INET || a->ai_family == AF_INET6) allowed = allow_->allows_address(a->ai_addr);
  if (!allowed) fail(CloseReason::ConnectFailed, -EACCES);
  return allowed;
}

void Connector::try_next() {
  const sockaddr* target = nullptr;
  if (literal_) {
    if (!literal_tried_) target = literal_;
    literal_tried_ = true;
  } else {
    while (next_address_ && !target) {
      addrinfo* candidate = next_address_;
      next_address_ = candidate->ai_next;
      if (candidate->ai_family == AF_INET || candidate->ai_family == AF_INET6) target = candidate->ai_addr;
    }
  }
  if (!target) {
    fail(out_of_descriptors(last_error_) ? CloseReason::OutOfDescriptors
         : last_error_ == UV_ETIMEDOUT   ? CloseReason::ConnectTimeout
                                         : CloseReason::ConnectFailed,
         last_error_);
    return;
  }
  int fd = socket(target->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    last_error_ = -errno;
    try_next();  // out of descriptors: the next address will fail alike, and say so
    return;
  }
  socket_ = Socket(*events_, fd);
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // relayed bytes go out as they come
  if (sends_first_) {
    // Quick acknowledgements off before the handshake: the kernel then holds the ACK of the
    // backend's SYN-ACK back (for at most 200 ms) and sends it with the first bytes, written as
    // soon as the connect completes: one packet fewer per connection for passthru's kernel to
    // send and the backend's to take (HAProxy's "tcp-smart-connect"). Only with bytes to send:
    // a backend that speaks first would wait that long for its accept().
    int off = 0;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof off);
  }
  if (connecting_fast(loop_)) search_every_ephemeral_port(fd);
  if (from_.address) {
    int status = from_.address->sa_family == target->sa_family ? bind_source(fd, from_.address, from_.keep_port)
                                                               : -EAFNOSUPPORT;
    if (status < 0) {
      socket_.close();
      fail(CloseReason::SourceRefused, status);
      return;
    }
  }
  if (::connect(fd, target, address_length(target)) != 0 && errno != EINPROGRESS) {
    // With a source bound, these say the four addresses are taken, not that the target failed.
    if (from_.address && (errno == EADDRINUSE || errno == EADDRNOTAVAIL)) {
      int error = -errno;
      socket_.close();
      fail(CloseReason::SourceRefused, error);
      return;
    }
    retry(-errno);
    return;
  }
  int status = socket_.watch(*this);  // told at once if the connect is already done
  if (status < 0) {
    retry(status);
    return;
  }
  deadline_->start(timeout_ms_, *this);
}

void Connector::on_ready(Socket& socket) {
  if (!active_) return;
  if (socket.error_seen()) {  // refused, unreachable...: SO_ERROR says which
    int error = socket.pending_error();
    retry(error ? error : -ECONNREFUSED);
    return;
  }
  if (!socket.may_write()) return;
  active_ = false;
  deadline_->stop();
  owner_->on_connected(std::move(socket_));
}

void Connector::on_deadline() {
  if (resolving_) {
    cancel();
    owner_->on_connect_failed(CloseReason::ConnectTimeout, UV_ETIMEDOUT);
    return;
  }
  retry(UV_ETIMEDOUT);
}

void Connector::retry(int error) {
  last_error_ = error;
  socket_.close();
  try_next();
}

void Connector::fail(CloseReason why, int error) {
  active_ = false;
  deadline_->stop();
  owner_->on_connect_failed(why, error);
}

void Connector::cancel() noexcept {
  if (active_) deadline_->stop();  // armed for this connect: its expiry must not come after
  active_ = false;
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));
  socket_.close();
}

}  // namespace passthru::core
