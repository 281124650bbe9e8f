#include "event_set.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "socket.hpp"

namespace passthru::core {

namespace {
// Edge-triggered: each change of readiness is told once, and the Socket keeps the record of
// what is readable and writable until a call says EAGAIN.
constexpr std::uint32_t kWatched = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr int kEventsPerTurn = 256;

epoll_event event_for(int fd, std::uint32_t generation) {
  epoll_event event{};
  event.events = kWatched;
  event.data.u64 = static_cast<std::uint32_t>(fd) | std::uint64_t{generation} << 32;
  return event;
}
}  // namespace

std::unique_ptr<EventSet> EventSet::open(uv_loop_t* loop, std::string& error) {
  std::unique_ptr<EventSet> set(new EventSet(loop));
  set->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (set->epoll_fd_ < 0) {
    error = std::string("cannot make an epoll set: ") + std::strerror(errno);
    return nullptr;
  }
  int status = uv_poll_init(loop, &set->poll_, set->epoll_fd_);
  if (status == 0) {
    set->poll_.data = set.get();
    status = uv_poll_start(&set->poll_, UV_READABLE, on_ready);
  }
  if (status < 0) {
    error = std::string("cannot watch an epoll set: ") + uv_strerror(status);
    return nullptr;  // uv_poll_init fails before it holds anything
  }
  return set;
}

EventSet::~EventSet() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

int EventSet::add(Socket& socket) {
  auto index = static_cast<std::size_t>(socket.fd());
  if (index >= entries_.size()) entries_.resize(index + 1 + index / 2);
  Entry& entry = entries_[index];
  entry.socket = &socket;
  ++entry.generation;
  epoll_event event = event_for(socket.fd(), entry.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, socket.fd(), &event) == 0) return 0;
  entry.socket = nullptr;
  return -errno;
}

void EventSet::forget(int fd) noexcept {
  // Closing the descriptor takes it out of the epoll set; clearing the entry drops the events
  // already taken for it in this batch.
  entries_[static_cast<std::size_t>(fd)].socket = nullptr;
}

void EventSet::report_again(const Socket& socket) noexcept {
  // Modifying an edge-triggered entry re-arms it: epoll reports it again if it is ready now.
  epoll_event event = event_for(socket.fd(), entries_[static_cast<std::size_t>(socket.fd())].generation);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, socket.fd(), &event);
}

void EventSet::close() {
  if (closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
}

void EventSet::on_ready(uv_poll_t* poll, int status, int) {
  auto* self = static_cast<EventSet*>(poll->data);
  if (status < 0) return;  // an epoll set does not fail; nothing to read if it did
  epoll_event events[kEventsPerTurn];
  int n = epoll_wait(self->epoll_fd_, events, kEventsPerTurn, 0);
  for (int i = 0; i < n; ++i) {
    auto fd = static_cast<std::size_t>(events[i].data.u64 & 0xFFFFFFFFu);
    auto generation = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
    const Entry& entry = self->entries_[fd];
    if (entry.socket && entry.generation == generation) entry.socket->on_events(events[i].events);
  }
}

}  // namespace passthru::core
