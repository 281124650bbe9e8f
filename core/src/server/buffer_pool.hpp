// BufferPool: fixed-size byte buffers reused within one event loop, so that reading and
// relaying allocate nothing in the steady state and an idle connection holds no buffer. The
// worker keeps its Connections' memory in one too.
// Not thread-safe by design: each worker owns its pools.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace passthru::core {

class BufferPool {
 public:
  /// `keep`: how many free buffers to hold on to after a burst; more are returned to the heap.
  BufferPool(std::size_t buffer_size, std::size_t keep) : size_(buffer_size), keep_(keep) {
    free_.reserve(keep_);
  }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool() {
    for (char* b : free_) delete[] b;
  }

  [[nodiscard]] std::size_t buffer_size() const noexcept { return size_; }

  char* take() {
    if (free_.empty()) return new char[size_];
    char* b = free_.back();
    free_.pop_back();
    return b;
  }
  void give(char* buffer) noexcept {
    if (!buffer) return;
    if (free_.size() >= keep_) {
      delete[] buffer;
      return;
    }
    free_.push_back(buffer);  // reserved in the constructor: never reallocates
  }

 private:
  std::size_t size_;
  std::size_t keep_;
  std::vector<char*> free_;
};

}  // namespace passthru::core
