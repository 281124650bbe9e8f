#include "proxy_header.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "passthru/wire/crc32c.hpp"
#include "passthru/wire/proxy_header_format.hpp"

namespace passthru::proxy {

using passthru::sdk::ByteReader;
using passthru::sdk::ByteSpan;
namespace v1 = passthru::wire::proxy_v1;
namespace v2 = passthru::wire::proxy_v2;

namespace {

HeaderParse with_status(HeaderStatus s) noexcept {
  HeaderParse p;
  p.status = s;
  return p;
}

HeaderParse need(std::size_t total, bool eof, std::size_t capacity) noexcept {
  if (total > capacity) return with_status(HeaderStatus::TooLarge);
  if (eof) return with_status(HeaderStatus::Truncated);
  HeaderParse p;
  p.need_bytes = total;
  return p;
}

/// §2.1: a decimal number without leading zeros, at most `max`.
bool parse_decimal(std::string_view s, unsigned max, unsigned& out) noexcept {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > max) return false;
  out = value;
  return true;
}

/// §2.1: four decimal numbers 0-255 without leading zeros.
bool parse_ipv4(std::string_view s, in_addr& out) noexcept {
  std::uint32_t address = 0;
  for (int part = 0; part < 4; ++part) {
    std::size_t dot = part < 3 ? s.find('.') : s.size();
    unsigned value = 0;
    if (dot == std::string_view::npos || !parse_decimal(s.substr(0, dot), 255, value)) return false;
    address = address << 8 | value;
    s = part < 3 ? s.substr(dot + 1) : std::string_view{};
  }
  out.s_addr = htonl(address);
  return true;
}

bool parse_ipv6(std::string_view s, in6_addr& out) noexcept {
  char text[INET6_ADDRSTRLEN];
  if (s.empty() || s.size() >= sizeof text) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
      return false;
  std::memcpy(text, s.data(), s.size());
  text[s.size()] = 0;
  return inet_pton(AF_INET6, text, &out) == 1;
}

void set_v4(sockaddr_storage& out, in_addr address, unsigned port) noexcept {
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  v4->sin_family = AF_INET;
  v4->sin_addr = address;
  v4->sin_port = htons(static_cast<std::uint16_t>(port));
}

void set_v6(sockaddr_storage& out, const in6_addr& address, unsigned port) noexcept {
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  v6->sin6_family = AF_INET6;
  v6->sin6_addr = address;
  v6->sin6_port = htons(static_cast<std::uint16_t>(port));
}

// §2.1, version 1: "PROXY" SP protocol SP src SP dst SP sport SP dport CR LF.
HeaderParse parse_v1(std::string_view b, bool eof, std::size_t capacity) noexcept {
  std::size_t scan = std::min(b.size(), v1::kMaxLength);
  std::size_t lf = b.substr(0, scan).find('\n');
  if (lf == std::string_view::npos) {
    if (b.substr(0, scan).find('\r') != std::string_view::npos && b.substr(0, scan).find('\r') + 1 < scan)
      return with_status(HeaderStatus::Malformed);  // a CR not followed by LF
    if (scan == v1::kMaxLength) return with_status(HeaderStatus::Malformed);
    return need(b.size() + 1, eof, capacity);
  }
  if (lf == 0 || b[lf - 1] != '\r') return with_status(HeaderStatus::Malformed);  // a lone LF
  std::string_view line = b.substr(v1::kPrefix.size(), lf - 1 - v1::kPrefix.size());
  if (line.find('\r') != std::string_view::npos) return with_status(HeaderStatus::Malformed);
  HeaderParse p;
  p.header.version = 1;
  p.header.length = lf + 1;
  bool unknown = line.starts_with(v1::kUnknown) && (line.size() == v1::kUnknown.size() || line[v1::kUnknown.size()] == ' ');
  if (unknown) {  // the rest of the line is ignored
    p.status = HeaderStatus::Complete;
    return p;
  }
  std::string_view fields[5];
  std::size_t count = 0;
  for (std::size_t start = 0; count < 5;) {
    std::size_t space = line.find(' ', start);
    fields[count++] = line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (space == std::string_view::npos) {
      start = line.size() + 1;
      break;
    }
    start = space + 1;
    if (count == 5) return with_status(HeaderStatus::Malformed);  // a sixth field
  }
  if (count != 5 || (fields[0] != v1::kTcp4 && fields[0] != v1::kTcp6)) return with_status(HeaderStatus::Malformed);
  unsigned source_port = 0, destination_port = 0;
  if (!parse_decimal(fields[3], 65535, source_port) || !parse_decimal(fields[4], 65535, destination_port))
    return with_status(HeaderStatus::Malformed);
  auto& a = p.header.addresses;
  if (fields[0] == v1::kTcp4) {
    in_addr source{}, destination{};
    if (!parse_ipv4(fields[1], source) || !parse_ipv4(fields[2], destination)) return with_status(HeaderStatus::Malformed);
    set_v4(a.source, source, source_port);
    set_v4(a.destination, destination, destination_port);
  } else {
    in6_addr source{}, destination{};
    if (!parse_ipv6(fields[1], source) || !parse_ipv6(fields[2], destination)) return with_status(HeaderStatus::Malformed);
    set_v6(a.source, source, source_port);
    set_v6(a.destination, destination, destination_port);
  }
  a.present = true;
  p.status = HeaderStatus::Complete;
  return p;
}

/// §2.2: the address block of TCP over IPv4 (12 bytes) or IPv6 (36): source address,
/// destination address, source port, destination port, in network order.
void read_addresses(ByteSpan block, int family, passthru::sdk::AdoptedAddresses& out) noexcept {
  std::size_t size = family == AF_INET ? 4 : 16;
  ByteReader r(block);
  ByteSpan source, destination;
  std::uint16_t source_port = 0, destination_port = 0;
  r.read_bytes(size, source);
  r.read_bytes(size, destination);
  r.read_u16(source_port);
  r.read_u16(destination_port);
  if (family == AF_INET) {
    in_addr s{}, d{};
    std::memcpy(&s, source.data(), size);
    std::memcpy(&d, destination.data(), size);
    set_v4(out.source, s, source_port);
    set_v4(out.destination, d, destination_port);
  } else {
    in6_addr s{}, d{};
    std::memcpy(&s, source.data(), size);
    std::memcpy(&d, destination.data(), size);
    set_v6(out.source, s, source_port);
    set_v6(out.destination, d, destination_port);
  }
  out.present = true;
}

bool is_printable(ByteSpan value) noexcept {
  for (auto c : value)
    if (c < 0x21 || c > 0x7E) return false;
  return true;
}

/// §2.2.1: TLVs up to the end of `tlvs`; false if one runs past it or bytes are left over.
bool parse_tlvs(ByteSpan tlvs, std::size_t header_offset, ProxyHeader& h, std::size_t& crc_at, bool nested) noexcept {
  ByteReader r(tlvs);
  while (!r.empty()) {
    std::uint8_t type = 0;
    std::uint16_t length = 0;
    ByteSpan value;
    std::size_t at = r.position();
    if (!r.read_u8(type) || !r.read_u16(length) || !r.read_bytes(length, value)) return false;
    if (nested) continue;  // SSL sub-TLVs: only their framing is checked
    switch (type) {
      case v2::kTlvAlpn:  // any bytes: an ALPN protocol name is opaque (RFC 7301 §3.1)
        if (value.empty() || value.size() > v2::kMaxAlpn) return false;
        h.alpn = passthru::sdk::as_chars(value);
        break;
      case v2::kTlvAuthority:
        if (value.empty() || value.size() > v2::kMaxAuthority || !is_printable(value)) return false;
        h.authority = passthru::sdk::as_chars(value);
        break;
      case v2::kTlvCrc32c:
        if (value.size() != v2::kCrc32cLength || crc_at) return false;
        crc_at = header_offset + at + v2::kTlvHeaderLength;
        break;
      case v2::kTlvUniqueId:
        if (value.size() > v2::kMaxUniqueId) return false;
        h.unique_id = value;
        break;
      case v2::kTlvSsl: {
        // §2.2.6: client (u8), verify (u32), then sub-TLVs.
        if (value.size() < 5) return false;
        std::size_t ignored = 0;
        if (!parse_tlvs(value.subspan(5), 0, h, ignored, true)) return false;
        h.ssl = true;
        break;
      }
      case v2::kTlvNetns:
        if (value.empty() || !is_printable(value)) return false;
        h.netns = passthru::sdk::as_chars(value);
        break;
      default:
        break;  // NOOP and types this receiver does not use are skipped (§2.2.1)
    }
  }
  return true;
}

// §2.2, version 2.
HeaderParse parse_v2(ByteSpan b, bool eof, std::size_t capacity) noexcept {
  // The 13th and 14th bytes are refused as soon as they arrive.
  auto known_version_command = [&] {
    return b[v2::kVersionCommandAt] >> 4 == v2::kVersion && (b[v2::kVersionCommandAt] & 0x0F) <= v2::kCommandProxy;
  };
  auto known_family_transport = [&] {
    return b[v2::kFamilyTransportAt] >> 4 <= v2::kFamilyUnix && (b[v2::kFamilyTransportAt] & 0x0F) <= v2::kTransportDgram;
  };
  if (b.size() > v2::kVersionCommandAt && !known_version_command()) return with_status(HeaderStatus::Malformed);
  if (b.size() > v2::kFamilyTransportAt && !known_family_transport()) return with_status(HeaderStatus::Malformed);
  if (b.size() < v2::kFixedLength) return need(v2::kFixedLength, eof, capacity);
  std::uint8_t command = b[v2::kVersionCommandAt] & 0x0F;
  std::uint8_t family = b[v2::kFamilyTransportAt] >> 4;
  std::uint8_t transport = b[v2::kFamilyTransportAt] & 0x0F;
  std::size_t length = v2::kFixedLength + (std::size_t{b[v2::kLengthAt]} << 8 | b[v2::kLengthAt + 1]);
  if (b.size() < length) return need(length, eof, capacity);
  ByteSpan header = b.first(length);

  std::size_t block = v2::kAddressBlockLength[family];
  if (length < v2::kFixedLength + block) return with_status(HeaderStatus::Malformed);
  HeaderParse p;
  p.header.version = 2;
  p.header.local = command == v2::kCommandLocal;
  p.header.length = length;
  bool adopt = command == v2::kCommandProxy && transport == v2::kTransportStream &&
               (family == v2::kFamilyInet || family == v2::kFamilyInet6);
  if (adopt)
    read_addresses(header.subspan(v2::kFixedLength, block), family == v2::kFamilyInet ? AF_INET : AF_INET6,
                   p.header.addresses);
  std::size_t crc_at = 0;
  if (!parse_tlvs(header.subspan(v2::kFixedLength + block), v2::kFixedLength + block, p.header, crc_at, false))
    return with_status(HeaderStatus::Malformed);
  if (crc_at) {
    // §2.2.3: the CRC of the whole header with the checksum's own four bytes as zeros.
    std::uint32_t expected = std::uint32_t{header[crc_at]} << 24 | std::uint32_t{header[crc_at + 1]} << 16 |
                             std::uint32_t{header[crc_at + 2]} << 8 | header[crc_at + 3];
    const std::uint8_t zeros[v2::kCrc32cLength] = {};
    std::size_t after = crc_at + v2::kCrc32cLength;
    std::uint32_t state = passthru::wire::crc32c_update(passthru::wire::crc32c_begin(), header.data(), crc_at);
    state = passthru::wire::crc32c_update(state, zeros, v2::kCrc32cLength);
    state = passthru::wire::crc32c_update(state, header.data() + after, length - after);
    if (passthru::wire::crc32c_end(state) != expected) return with_status(HeaderStatus::Malformed);
    p.header.crc_checked = true;
  }
  p.status = HeaderStatus::Complete;
  return p;
}

}  // namespace

HeaderParse parse_proxy_header(ByteSpan bytes, bool eof, std::size_t capacity) noexcept {
  if (bytes.empty()) return need(1, eof, capacity);
  std::string_view text = passthru::sdk::as_chars(bytes);
  if (text[0] == v1::kPrefix[0]) {
    for (std::size_t i = 0; i < v1::kPrefix.size(); ++i) {
      if (i == text.size()) return need(i + 1, eof, capacity);
      if (text[i] != v1::kPrefix[i]) return with_status(HeaderStatus::NotProxy);
    }
    return parse_v1(text, eof, capacity);
  }
  if (bytes[0] == v2::kSignature[0]) {
    for (std::size_t i = 0; i < v2::kSignature.size(); ++i) {
      if (i == bytes.size()) return need(i + 1, eof, capacity);
      if (bytes[i] != v2::kSignature[i]) return with_status(HeaderStatus::NotProxy);
    }
    return parse_v2(bytes, eof, capacity);
  }
  return with_status(HeaderStatus::NotProxy);
}

}  // namespace passthru::proxy
