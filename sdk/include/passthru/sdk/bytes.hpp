// ByteReader: a bounds-checked cursor over untrusted bytes, for wire-format parsers.
// Every read either succeeds entirely or fails and leaves the reader failed; it never reads
// past the end. Looking (peek_u8, compare) never moves it and never fails it. It does not
// allocate, own memory, or know any protocol.
//
// For text protocols, a step either finds what it expects, or sees too few bytes to tell yet
// (the client may still send them: NeedMore), or sees bytes that can never be it (NoMatch).
// compare() tells those three apart before a read, so that a parser's answer depends only on
// the bytes (see the contract in protocol.hpp). A Redis command's first line, `*2\r\n$4\r\nPING`:
//
//   ByteReader r(bytes);
//   std::uint64_t count = 0, length = 0;
//   if (r.compare("*") != Expect::Found) return r.empty() ? need_more(1) : no_match(NotThisProtocol);
//   r.skip(1);
//   if (!r.read_decimal(count, 7)) return r.empty() ? need_more(bytes.size() + 1) : no_match(Malformed);
//   switch (r.compare("\r\n")) {               // digits may go on, or the line end may come
//     case Expect::TooFew: return need_more(bytes.size() + 1);
//     case Expect::Differs: return no_match(Malformed);
//     case Expect::Found: r.skip(2);
//   }
//   ByteSpan line;
//   if (r.read_until("\r\n", line, 64)) { /* line: the bytes before the next CR LF */ }
//
// sdk/template/first_command.cpp reads a whole Redis first command this way.
#pragma once

#include "passthru/sdk/requires_cxx20.hpp"  // first: one clear line for an older -std

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace passthru::sdk {

using ByteSpan = std::span<const std::uint8_t>;

/// How the bytes left compare with a text a parser expects next.
enum class Expect : std::uint8_t {
  Found,    ///< they start with it
  TooFew,   ///< all of them (maybe none) begin it: more bytes may still bring it
  Differs,  ///< they cannot begin it, whatever comes next
};

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

  /// The next byte, without moving; false at the end. Never fails the reader.
  [[nodiscard]] bool peek_u8(std::uint8_t& out) const noexcept {
    if (!ok_ || empty()) return false;
    out = bytes_[pos_];
    return true;
  }
  /// Whether the bytes left start with `text`, may still (too few to tell), or cannot.
  [[nodiscard]] Expect compare(std::string_view text) const noexcept {
    if (!ok_) return Expect::Differs;
    std::size_t n = text.size() < remaining() ? text.size() : remaining();
    for (std::size_t i = 0; i < n; ++i)
      if (bytes_[pos_ + i] != static_cast<std::uint8_t>(text[i])) return Expect::Differs;
    return n == text.size() ? Expect::Found : Expect::TooFew;
  }
  /// Reads `text` exactly; fails unless compare(text) is Found.
  bool read_literal(std::string_view text) noexcept {
    if (compare(text) != Expect::Found) return fail();
    pos_ += text.size();
    return true;
  }
  /// Reads the bytes before the first `delimiter` (at most `max_length` of them) into `out`, and
  /// the delimiter after them. Fails if the delimiter is not among the bytes left, or comes later
  /// than `max_length` bytes from here: `remaining() > max_length + delimiter.size() - 1` then
  /// tells "too long" from "not here yet".
  bool read_until(std::string_view delimiter, ByteSpan& out, std::size_t max_length = SIZE_MAX) noexcept {
    if (!ok_ || delimiter.empty()) return fail();
    auto rest = as_text(bytes_.subspan(pos_));
    std::size_t at = rest.find(delimiter);
    if (at == std::string_view::npos || at > max_length) return fail();
    out = bytes_.subspan(pos_, at);
    pos_ += at + delimiter.size();
    return true;
  }
  /// Reads a decimal number: 1 to `max_digits` ASCII digits, up to the first other byte or the
  /// end. Fails with no digit, or more digits than `max_digits` (at most 19: fits 64 bits).
  /// Digits running to the end may go on in bytes not yet sent: the next step sees TooFew.
  bool read_decimal(std::uint64_t& out, std::size_t max_digits = 19) noexcept {
    if (max_digits > 19) max_digits = 19;
    std::size_t n = 0;
    std::uint64_t value = 0;
    while (ok_ && n < remaining() && bytes_[pos_ + n] >= '0' && bytes_[pos_ + n] <= '9') {
      if (n == max_digits) return fail();
      value = value * 10 + (bytes_[pos_ + n] - '0');
      ++n;
    }
    if (n == 0) return fail();
    pos_ += n;
    out = value;
    return true;
  }

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
    if (!ok_ || n > remaining()) return fail();
    pos_ += n;
    return true;
  }
  bool fail() noexcept {
    ok_ = false;
    return false;
  }
  static std::string_view as_text(ByteSpan bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
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
