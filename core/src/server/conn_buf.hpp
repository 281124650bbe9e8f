// ConnBuf: the first bytes of a client connection, held while the detectors decide.
// It takes a buffer of max_sniff_bytes from its listener's pool at the first read and gives it
// back once the bytes have been passed to the backend (or the connection ends), so a
// connection past detection holds no sniffing memory. It never grows past its capacity.
// It moves with the bytes: the sniffing stage hands it to the stage that sends them on.
#pragma once

#include <uv.h>

#include <cstdint>
#include <utility>

#include "buffer_pool.hpp"
#include "passthru/sdk/bytes.hpp"

namespace passthru::core {

class ConnBuf {
 public:
  ConnBuf() noexcept = default;  ///< empty, to be moved into
  explicit ConnBuf(BufferPool& pool) noexcept : pool_(&pool) {}
  ConnBuf(ConnBuf&& other) noexcept
      : pool_(other.pool_), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  ConnBuf& operator=(ConnBuf&& other) noexcept {
    if (this != &other) {
      release();
      pool_ = other.pool_;
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ConnBuf(const ConnBuf&) = delete;
  ConnBuf& operator=(const ConnBuf&) = delete;
  ~ConnBuf() { release(); }

  /// Where the next read may write: the free tail (empty when full).
  uv_buf_t free_space() {
    if (!data_) data_ = pool_->take();
    return uv_buf_init(data_ + size_, static_cast<unsigned>(capacity() - size_));
  }
  /// `n` bytes were written at free_space().
  void commit(std::size_t n) noexcept { size_ += n; }

  [[nodiscard]] passthru::sdk::ByteSpan bytes() const noexcept {
    return {reinterpret_cast<const std::uint8_t*>(data_), size_};
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return pool_->buffer_size(); }
  [[nodiscard]] bool full() const noexcept { return size_ == capacity(); }
  [[nodiscard]] uv_buf_t contents() const noexcept {
    return uv_buf_init(data_, static_cast<unsigned>(size_));
  }

  /// Gives the buffer back to the pool; the bytes are gone.
  void release() noexcept {
    if (data_) pool_->give(data_);
    data_ = nullptr;
    size_ = 0;
  }

 private:
  BufferPool* pool_ = nullptr;
  char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace passthru::core
