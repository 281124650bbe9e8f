#include "listening_sockets.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "transparent.hpp"

namespace passthru::core {

namespace {

/// A non-blocking listening socket on `at` with SO_REUSEPORT, so every worker can have its own
/// socket on the same address; `transparent` for transparent = true. Returns the descriptor, or
/// -1 with `error` set.
int open_listener(const Endpoint& at, std::uint16_t port, bool transparent, std::string& error) {
  sockaddr_storage address = at.address;
  if (address.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  else reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  // Accepted sockets inherit TCP_NODELAY from the listener: one call here, none per connection.
  // Relayed bytes go out as they come; Nagle's delay would only hold back a peer's last bytes.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (int status = transparent ? make_transparent(fd, address.ss_family) : 0; status < 0) {
    error = transparent_refusal(status);
    ::close(fd);
    return -1;
  }
  auto* at_address = reinterpret_cast<sockaddr*>(&address);
  if (bind(fd, at_address, address_length(at_address)) < 0 || listen(fd, SOMAXCONN) < 0) {
    error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port)
                                      : ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
}

/// One socket per worker for `server` (one only, the first worker's, when it carries reverse
/// tunnels). Port 0 is resolved by the first bind, and the other workers bind the port it got.
bool open_sockets(const Config& config, const ServerConfig& server, unsigned workers, OpenListener& out,
                  std::string& error) {
  std::uint16_t port = server.listen.port;
  for (unsigned w = 0; w < (server.first_worker_only ? 1 : workers); ++w) {
    std::string why;
    int fd = open_listener(server.listen, port, server.transparent, why);
    if (fd < 0) {
      for (int opened : out.fds) ::close(opened);
      out.fds.clear();
      error = format_error(config.path, server.where, "cannot listen on " + server.key + ": " + why);
      return false;
    }
    port = bound_port(fd);
    out.fds.push_back(fd);
  }
  Endpoint bound = server.listen;
  bound.port = port;
  out.name = bound.to_string();
  return true;
}

}  // namespace

std::optional<std::vector<OpenListener>> open_listeners(const Config& config, unsigned workers,
                                                        const std::vector<OpenListener>& running, std::string& error) {
  std::vector<OpenListener> listeners;
  for (const ServerConfig& server : config.servers) {
    OpenListener& listener = listeners.emplace_back();
    // A listener changed to or from transparent needs a socket with the other option; one that
    // comes to carry reverse tunnels, or stops, needs its sockets for one worker or for all.
    listener.address = server.listen.to_string() + (server.transparent ? " transparent" : "") +
                       (server.first_worker_only ? " first-worker" : "");
    auto kept = std::find_if(running.begin(), running.end(),
                             [&](const OpenListener& r) { return r.address == listener.address; });
    if (kept != running.end()) {
      listener.name = kept->name;
      listener.fds = kept->fds;
      listener.counts = ConnectionLimits::for_listener(server, kept->counts);
      continue;
    }
    listener.fresh = true;
    listener.counts = ConnectionLimits::for_listener(server);
    if (!open_sockets(config, server, workers, listener, error)) {
      for (const OpenListener& opened : listeners)
        if (opened.fresh)
          for (int fd : opened.fds) ::close(fd);
      return std::nullopt;
    }
  }
  return listeners;
}

std::vector<ListenerPlan> plan_for(unsigned worker, const Config& config, const std::vector<OpenListener>& listeners) {
  std::vector<ListenerPlan> plan;
  for (std::size_t i = 0; i < listeners.size(); ++i)
    if (worker < listeners[i].fds.size())  // else served by the first worker alone
      plan.push_back({listeners[i].fds[worker], listeners[i].fresh, &config.servers[i], listeners[i].name,
                      listeners[i].counts});
  return plan;
}

}  // namespace passthru::core
