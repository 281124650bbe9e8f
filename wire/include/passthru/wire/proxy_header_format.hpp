// The PROXY protocol's wire constants, version 1 (text) and version 2 (binary), as HAProxy's
// doc/proxy-protocol.txt defines them: the bytes the PROXY plugin's parser reads and the header
// writer (proxy_header_writer.hpp) writes, named once so that the two cannot drift apart.
// Constants only: it neither parses nor writes a header.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace passthru::wire {

namespace proxy_v1 {

/// §2.1: every v1 header starts with "PROXY" and one space.
inline constexpr std::string_view kPrefix = "PROXY ";
/// §2.1: the worst case, "PROXY TCP6 " and two full IPv6 addresses and ports, CR LF included.
inline constexpr std::size_t kMaxLength = 107;
/// §2.1: the protocol field: TCP over IPv4 or IPv6, or UNKNOWN (the rest of the line ignored).
inline constexpr std::string_view kTcp4 = "TCP4";
inline constexpr std::string_view kTcp6 = "TCP6";
inline constexpr std::string_view kUnknown = "UNKNOWN";

}  // namespace proxy_v1

namespace proxy_v2 {

/// §2.2: the 12-byte signature. It holds a NUL, so it is never a C string.
inline constexpr std::array<std::uint8_t, 12> kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                            0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// §2.2: after the signature, one byte of version and command, one of family and transport, and
// the length of the rest (address block and TLVs) as a big-endian u16.
inline constexpr std::size_t kVersionCommandAt = 12;
inline constexpr std::size_t kFamilyTransportAt = 13;
inline constexpr std::size_t kLengthAt = 14;
inline constexpr std::size_t kFixedLength = 16;  ///< signature to length, before the address block

/// The high 4 bits of the 13th byte.
inline constexpr std::uint8_t kVersion = 0x2;
/// The low 4 bits of the 13th byte: LOCAL (the proxy's own connection, no addresses to adopt)
/// or PROXY (on behalf of the client in the address block).
inline constexpr std::uint8_t kCommandLocal = 0x0;
inline constexpr std::uint8_t kCommandProxy = 0x1;

/// The high 4 bits of the 14th byte.
inline constexpr std::uint8_t kFamilyUnspec = 0x0;
inline constexpr std::uint8_t kFamilyInet = 0x1;
inline constexpr std::uint8_t kFamilyInet6 = 0x2;
inline constexpr std::uint8_t kFamilyUnix = 0x3;
/// The low 4 bits of the 14th byte.
inline constexpr std::uint8_t kTransportUnspec = 0x0;
inline constexpr std::uint8_t kTransportStream = 0x1;
inline constexpr std::uint8_t kTransportDgram = 0x2;

/// §2.2: the address block's length for each family, indexed by the family's 4 bits: none for
/// UNSPEC, two IPv4 addresses and ports (12), two IPv6 (36), two 108-byte UNIX paths (216).
inline constexpr std::array<std::size_t, 4> kAddressBlockLength = {0, 12, 36, 216};

constexpr std::uint8_t version_command(std::uint8_t command) noexcept {
  return static_cast<std::uint8_t>(kVersion << 4 | command);
}
constexpr std::uint8_t family_transport(std::uint8_t family, std::uint8_t transport) noexcept {
  return static_cast<std::uint8_t>(family << 4 | transport);
}

// §2.2.1-§2.2.8: TLV types, each followed by a big-endian u16 length and the value.
inline constexpr std::uint8_t kTlvAlpn = 0x01;
inline constexpr std::uint8_t kTlvAuthority = 0x02;
inline constexpr std::uint8_t kTlvCrc32c = 0x03;
inline constexpr std::uint8_t kTlvNoop = 0x04;
inline constexpr std::uint8_t kTlvUniqueId = 0x05;
inline constexpr std::uint8_t kTlvSsl = 0x20;
inline constexpr std::uint8_t kTlvNetns = 0x30;
/// A TLV's type and length, before its value.
inline constexpr std::size_t kTlvHeaderLength = 3;

/// §2.2.3: the CRC32C TLV's value, a big-endian u32.
inline constexpr std::size_t kCrc32cLength = 4;
/// §2.2.5: the most bytes a UNIQUE_ID may hold.
inline constexpr std::size_t kMaxUniqueId = 128;
/// The most bytes of AUTHORITY passthru sends or accepts: HAProxy's limit.
inline constexpr std::size_t kMaxAuthority = 255;
/// The most bytes of ALPN: one protocol name, at most 255 bytes (RFC 7301 §3.1).
inline constexpr std::size_t kMaxAlpn = 255;

}  // namespace proxy_v2

}  // namespace passthru::wire
