#include "passthru/wire/proxy_header_writer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "passthru/wire/crc32c.hpp"

namespace passthru::wire {

namespace {

// §2.2 signature.
constexpr char kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t kTlvAlpn = 0x01;
constexpr std::uint8_t kTlvAuthority = 0x02;
constexpr std::uint8_t kTlvCrc32c = 0x03;
constexpr std::uint8_t kTlvUniqueId = 0x05;

void put_u16(std::string& out, std::size_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

void put_tlv(std::string& out, std::uint8_t type, std::string_view value) {
  out.push_back(static_cast<char>(type));
  put_u16(out, value.size());
  out.append(value);
}

std::uint16_t port_of(const sockaddr* a) {
  return ntohs(a->sa_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(a)->sin_port
                                       : reinterpret_cast<const sockaddr_in6*>(a)->sin6_port);
}

const void* address_of(const sockaddr* a) {
  return a->sa_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a)->sin_addr)
                                 : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr);
}

bool same_ip_family(const sockaddr* a, const sockaddr* b) {
  return a && b && a->sa_family == b->sa_family && (a->sa_family == AF_INET || a->sa_family == AF_INET6);
}

// §2.1: "PROXY TCP4 src dst sport dport\r\n".
std::string write_v1(const sockaddr* source, const sockaddr* destination) {
  if (!same_ip_family(source, destination)) return "PROXY UNKNOWN\r\n";
  char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
  inet_ntop(source->sa_family, address_of(source), src, sizeof src);
  inet_ntop(destination->sa_family, address_of(destination), dst, sizeof dst);
  return std::string("PROXY ") + (source->sa_family == AF_INET ? "TCP4 " : "TCP6 ") + src + " " + dst + " " +
         std::to_string(port_of(source)) + " " + std::to_string(port_of(destination)) + "\r\n";
}

// §2.2: signature, version 2 and command, family and transport, length, addresses, TLVs.
std::string write_v2(const ProxySend& send, const sockaddr* source, const sockaddr* destination, const ProxyTlvs& tlvs) {
  std::string out(kSignature, sizeof kSignature);
  if (!same_ip_family(source, destination)) {
    out.append("\x20\x00\x00\x00", 4);  // LOCAL, UNSPEC, no address block (what HAProxy accepts)
    return out;
  }
  bool v4 = source->sa_family == AF_INET;
  out.push_back(0x21);                          // version 2, PROXY
  out.push_back(static_cast<char>(v4 ? 0x11 : 0x21));  // TCP over IPv4 / IPv6
  put_u16(out, 0);                              // the length, filled in below
  std::size_t address_size = v4 ? 4 : 16;
  out.append(static_cast<const char*>(address_of(source)), address_size);
  out.append(static_cast<const char*>(address_of(destination)), address_size);
  put_u16(out, port_of(source));
  put_u16(out, port_of(destination));
  if (!tlvs.alpn.empty()) put_tlv(out, kTlvAlpn, tlvs.alpn.substr(0, 255));
  if (!tlvs.authority.empty()) put_tlv(out, kTlvAuthority, tlvs.authority.substr(0, 255));
  if (send.unique_id && !tlvs.unique_id.empty()) put_tlv(out, kTlvUniqueId, tlvs.unique_id.substr(0, 128));
  std::size_t crc_at = 0;
  if (send.crc32c) {
    put_tlv(out, kTlvCrc32c, std::string_view("\0\0\0\0", 4));
    crc_at = out.size() - 4;
  }
  std::size_t length = out.size() - 16;
  out[14] = static_cast<char>(length >> 8);
  out[15] = static_cast<char>(length);
  if (crc_at) {
    // §2.2.3: computed over the whole header with the checksum as zeros, stored big-endian.
    std::uint32_t crc = crc32c(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
    for (int i = 0; i < 4; ++i) out[crc_at + i] = static_cast<char>(crc >> (24 - 8 * i));
  }
  return out;
}

}  // namespace

std::string write_proxy_header(const ProxySend& send, const sockaddr* source, const sockaddr* destination,
                               const ProxyTlvs& tlvs) {
  switch (send.version) {
    case ProxyVersion::None: return {};
    case ProxyVersion::V1: return write_v1(source, destination);
    case ProxyVersion::V2: return write_v2(send, source, destination, tlvs);
  }
  return {};
}

}  // namespace passthru::wire
