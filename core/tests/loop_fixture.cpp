#include "loop_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace passthru::core::testing {

namespace {

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

void set_non_blocking(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) fail("fcntl O_NONBLOCK");
}

void set_buffers(int fd, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0)
    fail("setsockopt SO_SNDBUF/SO_RCVBUF");
}

void set_no_delay(int fd) {
  int on = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) fail("setsockopt TCP_NODELAY");
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

// --- LoopFixture

LoopFixture::LoopFixture() {
  // As passthru's main does: a peer gone mid-write is an error code, not a signal that ends the run.
  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&loop_);
  std::string error;
  events_ = EventSet::open(&loop_, error);
  REQUIRE_MESSAGE(events_, error);
  deadlines_.emplace(&loop_);
  deadline_.emplace(*deadlines_);
  uv_timer_init(&loop_, &guard_);
  guard_.data = this;  // it keeps the loop alive while it runs: wait_until's turns run its timers
}

LoopFixture::~LoopFixture() {
  if (!closed_) close();
}

void LoopFixture::start_guard(std::uint64_t ms) {
  guard_fired_ = false;
  uv_timer_start(
      &guard_, [](uv_timer_t* timer) { static_cast<LoopFixture*>(timer->data)->guard_fired_ = true; }, ms, 0);
}

Socket LoopFixture::watched(int fd) {
  Socket socket(*events_, fd);
  if (int status = socket.watch(unwatched_); status < 0) throw std::system_error(-status, std::generic_category(), "watch");
  return socket;
}

int LoopFixture::close() {
  if (closed_) return 0;
  closed_ = true;
  deadline_->close();
  deadlines_->close();
  events_->close();
  uv_close(reinterpret_cast<uv_handle_t*>(&guard_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  return uv_loop_close(&loop_);
}

// --- Peer

Peer::Peer(Peer&& other) noexcept { *this = std::move(other); }

Peer& Peer::operator=(Peer&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    received = std::move(other.received);
    eof = other.eof;
    error = other.error;
    written = other.written;
    outbox_ = std::move(other.outbox_);
    sent_ = other.sent_;
  }
  return *this;
}

std::size_t Peer::pull() {
  std::size_t got = 0;
  char chunk[64 * 1024];
  while (fd_ >= 0 && !eof && error == 0) {
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      received.append(chunk, static_cast<std::size_t>(n));
      got += static_cast<std::size_t>(n);
    } else if (n == 0) {
      eof = true;
    } else if (errno == EAGAIN) {
      break;
    } else if (errno != EINTR) {
      error = errno;
    }
  }
  return got;
}

void Peer::send(std::string_view bytes) {
  outbox_.append(bytes);
  push();
}

std::size_t Peer::push() {
  std::size_t went = 0;
  while (fd_ >= 0 && error == 0 && sent_ < outbox_.size()) {
    ssize_t n = ::send(fd_, outbox_.data() + sent_, outbox_.size() - sent_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<std::size_t>(n);
      went += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN) {
      break;
    } else if (errno != EINTR) {
      error = errno;
    }
  }
  written += went;
  return went;
}

void Peer::shut_write() {
  if (shutdown(fd_, SHUT_WR) != 0) fail("shutdown");
}

void Peer::reset() {
  linger now{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &now, sizeof now);
  close();
}

void Peer::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// --- pairs and ports

FdPair unix_pair(int buffer_bytes) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) fail("socketpair");
  set_buffers(fds[0], buffer_bytes);
  set_buffers(fds[1], buffer_bytes);
  return {fds[0], fds[1]};
}

FdPair tcp_pair(int buffer_bytes) {
  LoopbackPort port(1, buffer_bytes);
  int peer = port.connect_to(buffer_bytes);
  int stage = accept4(port.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (stage < 0) fail("accept4");
  set_no_delay(stage);
  set_no_delay(peer);
  return {stage, peer};
}

LoopbackPort::LoopbackPort(std::optional<int> backlog, int buffer_bytes) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  set_buffers(fd_, buffer_bytes);  // an accepted socket inherits them
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    fail("bind");
  port_ = ntohs(address.sin_port);
  if (backlog && listen(fd_, *backlog) != 0) fail("listen");
}

LoopbackPort::~LoopbackPort() { ::close(fd_); }

Endpoint LoopbackPort::endpoint() const {
  std::string error;
  auto endpoint = parse_endpoint("127.0.0.1:" + std::to_string(port_), false, PortRule::NonZero, error);
  if (!endpoint) throw std::logic_error(error);
  return *endpoint;
}

int LoopbackPort::connect_to(int buffer_bytes) const {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  set_buffers(fd, buffer_bytes);
  sockaddr_in address = loopback(port_);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("connect");
  set_non_blocking(fd);
  return fd;
}

// --- bytes

std::string pattern(std::size_t size, std::uint32_t seed) {
  std::string bytes(size, '\0');
  std::uint32_t state = seed * 2654435761u + 1;
  for (char& c : bytes) {
    state = state * 1664525u + 1013904223u;  // Numerical Recipes' LCG; its high bits vary most
    c = static_cast<char>(state >> 24);
  }
  return bytes;
}

std::string ending(CloseReason why, int error) {
  std::string text = token(why);
  if (error != 0) text = text + " " + uv_err_name(error);
  return text;
}

// --- Lifetime

bool Lifetime::end() {
  deadline.close();
  lifeline.let_go();
  return fixture_->wait_until([&] { return released_; });
}

}  // namespace passthru::core::testing
