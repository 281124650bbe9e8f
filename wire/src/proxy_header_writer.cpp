#include "passthru/wire/proxy_header_writer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "passthru/wire/crc32c.hpp"
#include "passthru/wire/proxy_header_format.hpp"

namespace passthru::wire {

namespace {

using namespace proxy_v2;

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
  std::string out(proxy_v1::kPrefix);
  if (!same_ip_family(source, destination)) return out.append(proxy_v1::kUnknown).append("\r\n");
  char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
  inet_ntop(source->sa_family, address_of(source), src, sizeof src);
  inet_ntop(destination->sa_family, address_of(destination), dst, sizeof dst);
  out.append(source->sa_family == AF_INET ? proxy_v1::kTcp4 : proxy_v1::kTcp6);
  return out + " " + src + " " + dst + " " + std::to_string(port_of(source)) + " " +
         std::to_string(port_of(destination)) + "\r\n";
}

// §2.2: signature, version 2 and command, family and transport, length, addresses, TLVs.
std::string write_v2(const ProxySend& send, const sockaddr* source, const sockaddr* destination, const ProxyTlvs& tlvs) {
  std::string out(kSignature.begin(), kSignature.end());
  if (!same_ip_family(source, destination)) {
    // LOCAL, UNSPEC, no address block (what HAProxy accepts)
    out.push_back(static_cast<char>(version_command(kCommandLocal)));
    out.push_back(static_cast<char>(family_transport(kFamilyUnspec, kTransportUnspec)));
    put_u16(out, 0);
    return out;
  }
  bool v4 = source->sa_family == AF_INET;
  out.push_back(static_cast<char>(version_command(kCommandProxy)));
  out.push_back(static_cast<char>(family_transport(v4 ? kFamilyInet : kFamilyInet6, kTransportStream)));
  put_u16(out, 0);  // the length, filled in below
  std::size_t address_size = v4 ? 4 : 16;
  out.append(static_cast<const char*>(address_of(source)), address_size);
  out.append(static_cast<const char*>(address_of(destination)), address_size);
  put_u16(out, port_of(source));
  put_u16(out, port_of(destination));
  if (!tlvs.alpn.empty()) put_tlv(out, kTlvAlpn, tlvs.alpn.substr(0, kMaxAlpn));
  if (!tlvs.authority.empty()) put_tlv(out, kTlvAuthority, tlvs.authority.substr(0, kMaxAuthority));
  if (send.unique_id && !tlvs.unique_id.empty()) put_tlv(out, kTlvUniqueId, tlvs.unique_id.substr(0, kMaxUniqueId));
  std::size_t crc_at = 0;
  if (send.crc32c) {
    put_tlv(out, kTlvCrc32c, std::string_view("\0\0\0\0", kCrc32cLength));
    crc_at = out.size() - kCrc32cLength;
  }
  std::size_t length = out.size() - kFixedLength;
  out[kLengthAt] = static_cast<char>(length >> 8);
  out[kLengthAt + 1] = static_cast<char>(length);
  if (crc_at) {
    // §2.2.3: computed over the whole header with the checksum as zeros, stored big-endian.
    std::uint32_t crc = crc32c(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
    for (std::size_t i = 0; i < kCrc32cLength; ++i) out[crc_at + i] = static_cast<char>(crc >> (24 - 8 * i));
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
