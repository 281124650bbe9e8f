// CRC32C (Castagnoli; RFC 4960 Appendix B), as the PROXY protocol v2's CRC32C TLV uses it
// (proxy-protocol.txt §2.2.3): the PROXY plugin checks it, the header writer sends it. Nothing
// faster than a table is needed for headers of a few hundred bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace passthru::wire {

/// Continues a CRC32C over `size` more bytes. Start with crc32c_begin(), end with crc32c_end().
std::uint32_t crc32c_update(std::uint32_t state, const std::uint8_t* data, std::size_t size) noexcept;
constexpr std::uint32_t crc32c_begin() noexcept { return 0xFFFFFFFFu; }
constexpr std::uint32_t crc32c_end(std::uint32_t state) noexcept { return state ^ 0xFFFFFFFFu; }

inline std::uint32_t crc32c(const std::uint8_t* data, std::size_t size) noexcept {
  return crc32c_end(crc32c_update(crc32c_begin(), data, size));
}

}  // namespace passthru::wire
