#include "endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace passthru::core {

namespace {

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return true;
}

}  // namespace

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text, bool allow_names, PortRule port_rule,
                                       std::string& error) {
  Endpoint endpoint;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "'" + std::string(text) + "' is not an address: write an IPv6 address as [::1]:443";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "'" + std::string(text) + "' has no port: write host:port, e.g. 127.0.0.1:8443";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      error = "'" + std::string(text) + "': put an IPv6 address in brackets, as [::1]:443";
      return std::nullopt;
    }
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  bool port_ok = ec == std::errc() && end == port.data() + port.size() && !port.empty() &&
                 value <= 65535 && (value != 0 || port_rule == PortRule::AllowZero);
  if (!port_ok) {
    error = "'" + std::string(text) + "' has a bad port: use a number from " +
            (port_rule == PortRule::AllowZero ? "0" : "1") + " to 65535";
    return std::nullopt;
  }
  endpoint.host = std::string(host);
  endpoint.port = static_cast<std::uint16_t>(value);

  auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&endpoint.address);
  if (inet_pton(AF_INET, endpoint.host.c_str(), &v4->sin_addr) == 1 && text.front() != '[') {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(endpoint.port);
    endpoint.is_literal = true;
  } else if (inet_pton(AF_INET6, endpoint.host.c_str(), &v6->sin6_addr) == 1) {
    std::memset(&endpoint.address, 0, sizeof endpoint.address);
    inet_pton(AF_INET6, endpoint.host.c_str(), &v6->sin6_addr);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(endpoint.port);
    endpoint.is_literal = true;
  } else if (text.front() == '[') {
    error = "'" + std::string(text) + "': the part in brackets is not an IPv6 address";
    return std::nullopt;
  } else if (!allow_names) {
    error = "'" + std::string(text) + "' must be an IP address and port, e.g. 0.0.0.0:443 or [::]:443";
    return std::nullopt;
  } else if (!is_host_name(endpoint.host)) {
    error = "'" + std::string(text) + "': '" + endpoint.host + "' is neither an IP address nor a host name";
    return std::nullopt;
  }
  return endpoint;
}

void unmap_ipv4(sockaddr_storage& address) noexcept {
  if (address.ss_family != AF_INET6) return;
  auto v6 = *reinterpret_cast<const sockaddr_in6*>(&address);
  if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) return;
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = v6.sin6_port;
  std::memcpy(&v4.sin_addr, v6.sin6_addr.s6_addr + 12, 4);
  std::memset(&address, 0, sizeof address);
  std::memcpy(&address, &v4, sizeof v4);
}

IpAddress IpAddress::from(const sockaddr_storage& storage) noexcept {
  IpAddress out;
  if (storage.ss_family == AF_INET) std::memcpy(&out.v4, &storage, sizeof out.v4);
  else if (storage.ss_family == AF_INET6) std::memcpy(&out.v6, &storage, sizeof out.v6);
  return out;
}

void unmap_ipv4(IpAddress& address) noexcept {
  sockaddr_storage storage{};
  std::memcpy(&storage, &address, sizeof address);
  unmap_ipv4(storage);
  address = IpAddress::from(storage);
}

std::string format_address(const sockaddr* address) {
  std::string text;
  append_address(text, address);
  return text;
}

void append_address(std::string& out, const sockaddr* address) {
  // Written by hand: inet_ntop formats IPv4 with sprintf, the dearest part of an access line.
  auto append_decimal = [&out](unsigned value) {
    char digits[5];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    while (n > 0) out += digits[--n];
  };
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    const auto* octets = reinterpret_cast<const unsigned char*>(&v4->sin_addr);
    for (int i = 0; i < 4; ++i) {
      if (i) out += '.';
      append_decimal(octets[i]);
    }
    out += ':';
    append_decimal(ntohs(v4->sin_port));
  } else if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    out += '[';
    out += text;
    out += "]:";
    append_decimal(ntohs(v6->sin6_port));
  } else {
    out += '?';
  }
}

}  // namespace passthru::core
