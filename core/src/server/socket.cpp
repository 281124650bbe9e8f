#include "socket.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "event_set.hpp"

namespace passthru::core {

namespace {
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

/// Retries a call interrupted by a signal; returns its result, or a negated errno.
template <typename Call>
ssize_t retried(Call&& call) noexcept {
  ssize_t n;
  do {
    n = call();
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}
}  // namespace

void Socket::take(Socket& other) noexcept {
  events_ = other.events_;
  fd_ = std::exchange(other.fd_, -1);
  watcher_ = other.watcher_;
  watched_ = std::exchange(other.watched_, false);
  may_read_ = other.may_read_;
  may_write_ = other.may_write_;
  error_seen_ = other.error_seen_;
  hang_up_seen_ = other.hang_up_seen_;
  if (watched_) events_->moved(fd_, *this);
}

int Socket::watch(Watcher& watcher) {
  watcher_ = &watcher;
  int status = events_->add(*this);
  watched_ = status == 0;
  return status;
}

void Socket::report_again() const noexcept {
  if (watched_) events_->report_again(*this);
}

void Socket::on_events(std::uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) may_read_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) may_write_ = true;
  if (events & EPOLLERR) error_seen_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) hang_up_seen_ = true;
  watcher_->on_ready(*this);
}

ssize_t Socket::read(void* into, std::size_t size) noexcept {
  ssize_t n = retried([&] { return ::read(fd_, into, size); });
  // A read that got less than it asked for emptied the socket: bytes that come later raise a
  // new edge, so the read that would only say EAGAIN is spared (as nginx does). Not so once
  // the peer's FIN is on record: the EOF is read next, and no edge would announce it again.
  if (n == -EAGAIN || (n > 0 && static_cast<std::size_t>(n) < size && !hang_up_seen_)) may_read_ = false;
  return n;
}

ssize_t Socket::write(const void* from, std::size_t size) noexcept {
  ssize_t n = retried([&] { return ::write(fd_, from, size); });  // SIGPIPE is ignored
  if (n == -EAGAIN) may_write_ = false;
  return n;
}

ssize_t Socket::writev(const iovec* parts, int count) noexcept {
  ssize_t n = retried([&] { return ::writev(fd_, parts, count); });
  if (n == -EAGAIN) may_write_ = false;
  return n;
}

ssize_t Socket::splice_to(int pipe_fd, std::size_t size) noexcept {
  ssize_t n = retried([&] { return ::splice(fd_, nullptr, pipe_fd, nullptr, size, kSpliceFlags); });
  if (n == -EAGAIN) may_read_ = false;
  return n;
}

ssize_t Socket::splice_from(int pipe_fd, std::size_t size) noexcept {
  ssize_t n = retried([&] { return ::splice(pipe_fd, nullptr, fd_, nullptr, size, kSpliceFlags); });
  if (n == -EAGAIN) may_write_ = false;
  return n;
}

int Socket::shut_write() noexcept { return ::shutdown(fd_, SHUT_WR) == 0 ? 0 : -errno; }

int Socket::keep_alive(std::uint32_t idle_ms) noexcept {
  if (idle_ms == 0) return 0;  // off: the kernel's default, none
  int idle = static_cast<int>((idle_ms + 999) / 1000);
  int interval = std::max(1, idle / 3);
  int probes = 3;
  int on = 1;
  // TCP_USER_TIMEOUT ends the connection once nothing has come back for that long, probes or
  // data unacknowledged alike (data is not probed, only retransmitted, for about 15 minutes).
  unsigned user_timeout = 2u * static_cast<unsigned>(idle) * 1000u;  // the idle time as probed: whole seconds
  if (setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0 ||
      setsockopt(fd_, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) != 0 ||
      setsockopt(fd_, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes) != 0 ||
      setsockopt(fd_, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout) != 0 ||
      setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0)
    return -errno;
  return 0;
}

int Socket::pending_error() const noexcept {
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
  return -error;
}

void Socket::close(bool reset) noexcept {
  if (fd_ < 0) return;
  if (reset) {  // a RST instead of a FIN: SO_LINGER with a zero timeout
    linger now{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &now, sizeof now);
  }
  if (watched_) events_->forget(fd_);
  ::close(fd_);
  fd_ = -1;
  watched_ = false;
}

}  // namespace passthru::core
