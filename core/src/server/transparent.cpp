#include "transparent.hpp"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace passthru::core {

IpAddress local_address(int fd) noexcept {
  IpAddress local;
  socklen_t length = sizeof local;
  getsockname(fd, local.get(), &length);
  unmap_ipv4(local);
  return local;
}

bool reaches_own_listener(const IpAddress& target, std::uint16_t listener_port) noexcept {
  bool v4 = target.any.sa_family == AF_INET;
  if (ntohs(v4 ? target.v4.sin_port : target.v6.sin6_port) != listener_port) return false;
  int probe = socket(target.any.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;  // cannot tell: out of descriptors, the connect will say so
  IpAddress any_port = target;
  (v4 ? any_port.v4.sin_port : any_port.v6.sin6_port) = 0;
  bool own = bind(probe, any_port.get(), address_length(any_port.get())) == 0;  // else EADDRNOTAVAIL
  ::close(probe);
  return own;
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
