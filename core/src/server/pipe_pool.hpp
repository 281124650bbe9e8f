// PipePool: kernel pipes for splice(2), reused within one worker. A relay takes a pipe only to
// move bytes it has just read and gives it back as soon as the pipe is empty again, so an idle
// connection holds no pipe and a busy worker needs only as many pipes as it has sinks that are
// full at the same moment. Not thread-safe by design: each worker owns its pool.
#pragma once

#include <cstddef>
#include <vector>

namespace passthru::core {

struct KernelPipe {
  int read_fd = -1;
  int write_fd = -1;
  std::size_t capacity = 0;  ///< bytes it holds when full: what one read may move
  bool enlarged = false;     ///< holds a share of the process's budget for large pipes
};

class PipePool {
 public:
  /// `keep`: how many empty pipes to hold on to after a burst (two descriptors each).
  explicit PipePool(std::size_t keep) : keep_(keep) { free_.reserve(keep_); }
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;
  ~PipePool();

  /// An empty pipe, or nullptr when the process is out of descriptors (errno says why).
  KernelPipe* take();
  /// Takes back a pipe that is empty.
  void give(KernelPipe* p) noexcept;
  /// Closes a pipe that still holds bytes nobody will read.
  static void destroy(KernelPipe* p) noexcept;

 private:
  std::size_t keep_;
  std::vector<KernelPipe*> free_;
};

}  // namespace passthru::core
