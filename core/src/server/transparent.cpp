#include "transparent.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "../config/address_bytes.hpp"

namespace passthru::core {

IpAddress local_address(int fd) noexcept {
  IpAddress local;
  socklen_t length = sizeof local;
  getsockname(fd, local.get(), &length);
  unmap_ipv4(local);
  return local;
}

namespace {

bool same_address(const sockaddr* a, const sockaddr* b) noexcept {
  const std::uint8_t* a_bytes = nullptr;
  const std::uint8_t* b_bytes = nullptr;
  sa_family_t family = address_bytes(a, a_bytes);
  return family != AF_UNSPEC && address_bytes(b, b_bytes) == family &&
         std::memcmp(a_bytes, b_bytes, family == AF_INET ? 4 : 16) == 0;
}

/// 0.0.0.0 or ::, as a listener on every address is bound.
bool is_wildcard(const sockaddr* address) noexcept {
  const std::uint8_t* bytes = nullptr;
  sa_family_t family = address_bytes(address, bytes);
  return family != AF_UNSPEC && std::all_of(bytes, bytes + (family == AF_INET ? 4 : 16), [](std::uint8_t b) { return b == 0; });
}

/// Whether `address` is one of this host's own: loopback, or an interface's address. The
/// interfaces are read at most once a second per thread (getifaddrs is dear, and only a
/// connection to the listener's own port asks), so an address added just now may be missed
/// for that long.
bool is_local_address(const sockaddr* address, std::uint64_t now_ms) {
  if (address->sa_family == AF_INET &&
      (ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr) >> 24) == 127)
    return true;
  if (address->sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr))
    return true;
  thread_local std::vector<IpAddress> interfaces;
  thread_local std::uint64_t read_at = 0;
  thread_local bool read_once = false;
  if (!read_once || now_ms - read_at >= 1000) {
    read_once = true;
    read_at = now_ms;
    interfaces.clear();
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) == 0) {
      for (ifaddrs* i = list; i; i = i->ifa_next)
        if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
          interfaces.push_back(IpAddress::from(*reinterpret_cast<const sockaddr_storage*>(i->ifa_addr)));
      freeifaddrs(list);
    }
  }
  return std::any_of(interfaces.begin(), interfaces.end(),
                     [&](const IpAddress& own) { return same_address(own.get(), address); });
}

}  // namespace

bool reaches_own_listener(const IpAddress& target, const Endpoint& listen, std::uint16_t listener_port,
                          std::uint64_t now_ms) {
  bool v4 = target.any.sa_family == AF_INET;
  if (ntohs(v4 ? target.v4.sin_port : target.v6.sin6_port) != listener_port) return false;
  const auto* bound = reinterpret_cast<const sockaddr*>(&listen.address);
  if (!is_wildcard(bound)) return same_address(bound, target.get());
  return is_local_address(target.get(), now_ms);
}

int make_transparent(int fd, int family) noexcept {
  int on = 1;
  int status = family == AF_INET6 ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof on)
                                  : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof on);
  return status == 0 ? 0 : -errno;
}

int bind_source(int fd, const sockaddr* source, bool keep_port) noexcept {
  if (int status = make_transparent(fd, source->sa_family); status < 0) return status;
  IpAddress address;
  std::memcpy(address.get(), source, address_length(source));
  int on = 1;
  if (keep_port) {
    // The client's earlier connection from this port may still be in TIME_WAIT here: that
    // alone does not stop this one (connect() says so if the four addresses are in use).
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  } else {
    setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    if (address.any.sa_family == AF_INET) address.v4.sin_port = 0;
    else address.v6.sin6_port = 0;
  }
  return bind(fd, address.get(), address_length(address.get())) == 0 ? 0 : -errno;
}

std::string transparent_refusal(int error) {
  if (error == -EPERM)
    return "transparent mode needs the CAP_NET_ADMIN capability (run passthru as root, or give it the capability: "
           "setcap cap_net_admin+ep, or systemd's AmbientCapabilities=CAP_NET_ADMIN): " +
           std::string(std::strerror(EPERM));
  return "cannot make the socket transparent: " + std::string(std::strerror(-error));
}

bool needs_net_admin(const Config& config) {
  for (const ServerConfig& server : config.servers) {
    if (server.transparent) return true;
    for (const Action* action : actions_of(server))
      if (action->kind == ActionKind::Forward && action->source != SourceKind::Own) return true;
  }
  return false;
}

std::string check_source_capability(const Config& config) {
  for (const ServerConfig& server : config.servers) {
    for (const Action* action : actions_of(server)) {
      if (action->kind != ActionKind::Forward || action->source == SourceKind::Own) continue;
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int status = fd < 0 ? -errno : make_transparent(fd, AF_INET);
      if (fd >= 0) ::close(fd);
      if (status == 0) return {};
      return format_error(config.path, action->source_at, "source: " + transparent_refusal(status));
    }
  }
  return {};
}

}  // namespace passthru::core
