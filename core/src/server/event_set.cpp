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
// Level-triggered: a listener with connections still waiting is told again at the next turn.
constexpr std::uint32_t kListening = EPOLLIN;
constexpr int kEventsPerTurn = 256;
// What libuv's own epoll set is tagged with: no descriptor's entry has it.
constexpr std::uint64_t kLoopTag = ~std::uint64_t{0};

epoll_event event_for(int fd, std::uint32_t generation, std::uint32_t watched) {
  epoll_event event{};
  event.events = watched;
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
  epoll_event event{};
  event.events = EPOLLIN;  // libuv's set is readable while it holds a ready event
  event.data.u64 = kLoopTag;
  if (epoll_ctl(set->epoll_fd_, EPOLL_CTL_ADD, uv_backend_fd(loop), &event) != 0) {
    error = std::string("cannot watch the event loop: ") + std::strerror(errno);
    return nullptr;  // the destructor closes the set
  }
  return set;
}

EventSet::~EventSet() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

EventSet::Entry& EventSet::renew(int fd) {
  auto index = static_cast<std::size_t>(fd);
  if (index >= entries_.size()) entries_.resize(index + 1 + index / 2);
  Entry& entry = entries_[index];
  entry = Entry{nullptr, nullptr, entry.generation + 1};
  return entry;
}

int EventSet::add(Socket& socket) {
  Entry& entry = renew(socket.fd());
  epoll_event event = event_for(socket.fd(), entry.generation, kWatched);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, socket.fd(), &event) != 0) return -errno;
  entry.socket = &socket;
  return 0;
}

int EventSet::watch_listening(int fd, Acceptor& acceptor) {
  Entry& entry = renew(fd);
  epoll_event event = event_for(fd, entry.generation, kListening);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return -errno;
  entry.acceptor = &acceptor;
  return 0;
}

void EventSet::pause_listening(int fd, bool paused) {
  // Taken out of the set and put back: rare (once per backoff), and a paused level-triggered
  // entry left in would still be told of errors.
  const Entry& entry = entries_[static_cast<std::size_t>(fd)];
  epoll_event event = event_for(fd, entry.generation, kListening);
  epoll_ctl(epoll_fd_, paused ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, fd, &event);
}

void EventSet::forget(int fd) noexcept {
  // Closing the descriptor takes it out of the epoll set; clearing the entry drops the events
  // already taken for it in this batch.
  Entry& entry = entries_[static_cast<std::size_t>(fd)];
  entry.socket = nullptr;
  entry.acceptor = nullptr;
}

void EventSet::report_again(const Socket& socket) noexcept {
  // Modifying an edge-triggered entry re-arms it: epoll reports it again if it is ready now.
  const Entry& entry = entries_[static_cast<std::size_t>(socket.fd())];
  epoll_event event = event_for(socket.fd(), entry.generation, kWatched);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, socket.fd(), &event);
}

void EventSet::turn(bool wait, int at_most_ms) {
  if (!loop_started_) {  // libuv adds its descriptors to its set when it runs
    loop_started_ = true;
    uv_run(loop_, UV_RUN_NOWAIT);
  }
  epoll_event events[kEventsPerTurn];
  int timeout = wait ? uv_backend_timeout(loop_) : 0;  // -1: until something is ready
  if (at_most_ms >= 0 && (timeout < 0 || timeout > at_most_ms)) timeout = at_most_ms;
  int n = epoll_wait(epoll_fd_, events, kEventsPerTurn, timeout);
  uv_update_time(loop_);
  ++turns_;
  bool loop_ready = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kLoopTag) {
      loop_ready = true;
      continue;
    }
    if (closed_) continue;
    auto fd = static_cast<std::size_t>(events[i].data.u64 & 0xFFFFFFFFu);
    auto generation = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
    const Entry& entry = entries_[fd];
    if (entry.generation != generation) continue;
    if (entry.socket) entry.socket->on_events(events[i].events);
    else if (entry.acceptor) entry.acceptor->on_acceptable();
  }
  // uv_backend_timeout is 0 when a timer is due, a handle is closing or a callback is pending.
  if (loop_ready || uv_backend_timeout(loop_) == 0) uv_run(loop_, UV_RUN_NOWAIT);
}

}  // namespace passthru::core
