// Transparent mode's socket options (Linux): IP_TRANSPARENT on a listening socket, so that it
// takes connections TPROXY rules diverted to it whatever their destination, and on a backend
// socket, so that it may connect from an address that is not this host's own: the client's.
// Only the system calls and their refusals; which connections need them is the config's word
// (ServerConfig::transparent, Action::source), and the routing that brings the packets here
// is the host's (README: transparent mode).
#pragma once

#include <sys/socket.h>

#include <string>

#include "../config/config.hpp"

namespace passthru::core {

/// The address a connection's socket `fd` was reached at (getsockname), IPv4-mapped addresses
/// made plain: on a transparent listener, the connection's original destination.
IpAddress local_address(int fd) noexcept;

/// Whether connecting to `target` would reach the listener bound at `listen` (its port being
/// `listener_port`, the one it got): the port is that one, and the address is the listener's
/// own, or, for a listener on every address (0.0.0.0, ::), one of this host's. A client that
/// reaches a transparent listener directly, not diverted by TPROXY, has the listener itself as
/// its original destination, and ORIGINAL would connect it to itself, again and again, until
/// no descriptor is left. `now_ms` is the loop's time: the host's addresses are read again at
/// most once a second.
bool reaches_own_listener(const IpAddress& target, const Endpoint& listen, std::uint16_t listener_port,
                          std::uint64_t now_ms);

/// Sets IP_TRANSPARENT (IPv4) or IPV6_TRANSPARENT (IPv6) on `fd`. Returns 0 or a negated errno
/// (-EPERM without CAP_NET_ADMIN).
int make_transparent(int fd, int family) noexcept;

/// Prepares `fd`, a new backend socket of `source`'s family, to connect from `source`: makes it
/// transparent and binds the address, with its port when `keep_port`, else with port 0 left for
/// connect() to pick (IP_BIND_ADDRESS_NO_PORT, so a port is taken only for the one destination).
/// Returns 0 or a negated errno.
int bind_source(int fd, const sockaddr* source, bool keep_port) noexcept;

/// Why a refused transparent option failed, for a start-up error: names CAP_NET_ADMIN when the
/// error is EPERM; else the system's words. `error` is a negated errno.
std::string transparent_refusal(int error);

/// Whether this process may make sockets transparent, asked once before start-up when a FORWARD
/// rule has a source: an empty string if so, else a config-style error at that rule's source.
std::string check_source_capability(const Config& config);

/// Whether the config needs CAP_NET_ADMIN: a transparent listener, or a FORWARD with a source.
bool needs_net_admin(const Config& config);

}  // namespace passthru::core
