// ByteReader: a bounds-checked cursor over untrusted bytes, for wire-format parsers.
// Every read either succeeds entirely or fails and leaves the reader failed; it never reads
// past the end. It does not allocate, own memory, or know any protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace passthru::sdk {

using ByteSpan = std::span<const std::uint8_t>;

class ByteReader {
 public:
  explicit ByteReader(ByteSpan bytes) noexcept : bytes_(bytes) {}

  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  [[nodiscard]] bool empty() const noexcept { return remaining() == 0; }
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }

  bool read_u8(std::uint8_t& out) noexcept {
    if (!take(1)) return false;
    out = bytes_[pos_ - 1];
    return true;
  }
  /// Big-endian (network order), as every wire format here uses.
  bool read_u16(std::uint16_t& out) noexcept {
    if (!take(2)) return false;
    out = static_cast<std::uint16_t>(bytes_[pos_ - 2] << 8 | bytes_[pos_ - 1]);
    return true;
  }
  bool read_u24(std::uint32_t& out) noexcept {
    if (!take(3)) return false;
    out = static_cast<std::uint32_t>(bytes_[pos_ - 3]) << 16 |
          static_cast<std::uint32_t>(bytes_[pos_ - 2]) << 8 | bytes_[pos_ - 1];
    return true;
  }
  bool read_bytes(std::size_t n, ByteSpan& out) noexcept {
    if (!take(n)) return false;
    out = bytes_.subspan(pos_ - n, n);
    return true;
  }
  bool skip(std::size_t n) noexcept { return take(n); }

  /// Reads a vector with a 1- or 2-byte length prefix (RFC 8446 §3.4) as a sub-reader.
  bool read_prefixed_u8(ByteReader& out) noexcept {
    std::uint8_t n = 0;
    ByteSpan body;
    if (!read_u8(n) || !read_bytes(n, body)) return false;
    out = ByteReader(body);
    return true;
  }
  bool read_prefixed_u16(ByteReader& out) noexcept {
    std::uint16_t n = 0;
    ByteSpan body;
    if (!read_u16(n) || !read_bytes(n, body)) return false;
    out = ByteReader(body);
    return true;
  }

 private:
  bool take(std::size_t n) noexcept {
    if (!ok_ || n > remaining()) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }

  ByteSpan bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

/// Views bytes as characters, for text protocols and for logging names.
inline std::string_view as_chars(ByteSpan bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace passthru::sdk
