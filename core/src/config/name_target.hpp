// Name-built targets: a FORWARD whose to_addr is "{sni}:PORT" or "{host}:PORT" connects to the
// name the client asked for (sniproxy's backreferences, nginx's
// proxy_pass $ssl_preread_server_name:443). Such a rule must be bounded: its own matcher limits
// the names (an exact or wildcard SNI / HOST rule), or its allow list does, checked against the
// name and every address the name resolves to. Here: the allow list and the checks on a name;
// resolving and connecting are the Connector's.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client_condition.hpp"

namespace passthru::core {

/// Which fact a name-built to_addr takes its host from: none (an ordinary to_addr), the TLS SNI
/// ("{sni}"), or the HTTP Host ("{host}").
enum class NameSource : std::uint8_t { None, Sni, Host };

/// A rule's allow list: names (".example.net": it and every name under it; "example.org": that
/// name only) and address prefixes ("10.0.0.0/8"). With names, the client's name must be one of
/// them (an IPv4 literal is checked by the prefixes alone); with prefixes, every address it
/// resolves to must be inside one.
struct NameAllow {
  std::vector<std::string> names;  ///< lower-case, without a trailing dot
  std::vector<Prefix> addresses;

  [[nodiscard]] bool allows_name(std::string_view name) const noexcept;
  [[nodiscard]] bool allows_address(const sockaddr* address) const noexcept;
};

/// The host to connect to for the name the client sent (`fact`): lower-cased, one trailing dot
/// dropped; nullopt if it is not a plausible host name (letters, digits, '-', '_', '.'; at most
/// 253 characters; no empty label) or `allow` refuses it.
std::optional<std::string> target_host(std::string_view fact, const NameAllow* allow);

}  // namespace passthru::core
