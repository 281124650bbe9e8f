#include "relay_poller.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace passthru::core {

namespace {
// Edge-triggered: each change of readiness is told once, and a relay keeps its own record of
// what is readable and writable until a call says EAGAIN.
constexpr std::uint32_t kRelayEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr int kEventsPerTurn = 256;
}  // namespace

RelayPoller::RelayPoller(uv_loop_t* loop) : loop_(loop) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error(std::string("cannot make an epoll set: ") + uv_strerror(-errno));
  int status = uv_poll_init(loop_, &poll_, epoll_fd_);
  if (status == 0) {
    poll_.data = this;
    status = uv_poll_start(&poll_, UV_READABLE, on_ready);
  }
  if (status < 0) throw std::runtime_error(std::string("cannot watch an epoll set: ") + uv_strerror(status));
}

RelayPoller::~RelayPoller() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

int RelayPoller::watch(int fd, Handler* handler, bool in_loop) {
  // libuv leaves a socket it has stopped reading in its own set until an event comes for it;
  // taking it out now spares the loop that wake-up. It may already be gone: that is fine.
  if (in_loop) epoll_ctl(uv_backend_fd(loop_), EPOLL_CTL_DEL, fd, nullptr);
  epoll_event event{};
  event.events = kRelayEvents;
  event.data.ptr = handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -errno;
}

void RelayPoller::forget(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void RelayPoller::report_again(int fd, Handler* handler) {
  // Modifying an edge-triggered entry re-arms it: epoll reports it again if it is ready now.
  epoll_event event{};
  event.events = kRelayEvents;
  event.data.ptr = handler;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
}

void RelayPoller::close() {
  if (closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
}

void RelayPoller::on_ready(uv_poll_t* poll, int status, int) {
  auto* self = static_cast<RelayPoller*>(poll->data);
  if (status < 0) return;  // an epoll set does not fail; nothing to read if it did
  epoll_event events[kEventsPerTurn];
  int n = epoll_wait(self->epoll_fd_, events, kEventsPerTurn, 0);
  // A handler may end its connection, but the connection lives until the loop's close phase,
  // after this turn: events already taken for it here still find it, stopped.
  for (int i = 0; i < n; ++i) static_cast<Handler*>(events[i].data.ptr)->on_events(events[i].events);
}

}  // namespace passthru::core
