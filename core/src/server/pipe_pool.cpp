#include "pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

namespace passthru::core {

namespace {
// A pipe holds 64 KiB by default. A larger one lets each splice(2) move more, so a bulk
// transfer makes fewer calls and the kernel sends larger segments: on loopback 512 KiB pipes
// relay about 1.5 times as fast as 64 KiB ones.
constexpr std::size_t kDefaultCapacity = 64 * 1024;
constexpr std::size_t kLargeCapacity = 512 * 1024;
// The kernel counts pipe capacity per user, and an unprivileged user past 64 MiB
// (fs.pipe-user-pages-soft) gets tiny pipes everywhere. passthru enlarges pipes only within
// half of that, for the whole process; the rest keep the default. Pipes are made rarely (they
// are pooled), so this one shared counter is off the per-connection path.
constexpr int kLargePipesInProcess = 64;
std::atomic<int> large_pipes_left{kLargePipesInProcess};

bool take_large_share() {
  int left = large_pipes_left.load(std::memory_order_relaxed);
  while (left > 0 && !large_pipes_left.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
  }
  return left > 0;
}
}  // namespace

PipePool::~PipePool() {
  for (KernelPipe* p : free_) destroy(p);
}

KernelPipe* PipePool::take() {
  if (!free_.empty()) {
    KernelPipe* p = free_.back();
    free_.pop_back();
    return p;
  }
  int fds[2];
  if (alive_ >= limit_ || pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return nullptr;
  ++alive_;
  auto* p = new KernelPipe{fds[0], fds[1], kDefaultCapacity};
  if (take_large_share()) {
    if (fcntl(p->write_fd, F_SETPIPE_SZ, static_cast<int>(kLargeCapacity)) >= 0) {
      p->capacity = kLargeCapacity;  // it holds a share of the process's budget
    } else {
      large_pipes_left.fetch_add(1, std::memory_order_relaxed);  // refused: keep the default
    }
  }
  return p;
}

void PipePool::give(KernelPipe* p) noexcept {
  if (free_.size() >= keep_) {
    destroy(p);
    return;
  }
  free_.push_back(p);  // reserved in the constructor: never reallocates
}

void PipePool::destroy(KernelPipe* p) noexcept {
  close(p->read_fd);
  close(p->write_fd);
  --alive_;
  if (p->capacity == kLargeCapacity) large_pipes_left.fetch_add(1, std::memory_order_relaxed);
  delete p;
}

}  // namespace passthru::core
