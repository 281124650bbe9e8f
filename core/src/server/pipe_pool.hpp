// PipePool: kernel pipes for splice(2), reused within one worker. A relay takes a pipe only to
// move bytes it has just read and gives it back as soon as the pipe is empty again, so an idle
// connection holds no pipe and a busy worker needs only as many pipes as it has sinks that are
// full at the same moment. It makes no more than its limit: past it, relays copy through a
// buffer instead. Not thread-safe by design: each worker owns its pool.
#pragma once

#include <cstddef>
#include <vector>

namespace passthru::core {

struct KernelPipe {
  int read_fd = -1;
  int write_fd = -1;
  std::size_t capacity = 0;  ///< bytes it holds when full: what one read may move
};

class PipePool {
 public:
  /// `keep`: how many empty pipes to hold on to after a burst (two descriptors each);
  /// `limit`: how many may exist at once.
  PipePool(std::size_t keep, std::size_t limit) : keep_(keep), limit_(limit) { free_.reserve(keep_); }
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;
  ~PipePool();

  /// An empty pipe, or nullptr past the limit or when the process is out of descriptors.
  KernelPipe* take();
  /// Takes back a pipe that is empty.
  void give(KernelPipe* p) noexcept;
  /// Closes a pipe that still holds bytes nobody will read.
  void destroy(KernelPipe* p) noexcept;

 private:
  std::size_t keep_;
  std::size_t limit_;
  std::size_t alive_ = 0;
  std::vector<KernelPipe*> free_;
};

}  // namespace passthru::core
