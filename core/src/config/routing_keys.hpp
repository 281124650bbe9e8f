// The routing keys of a rule, as its table writes them: a to_addr list with balance and down_ms
// (BackendPool), from / not_from (ClientCondition), reject and status (RejectStyle), a
// name-built to_addr and its allow list (name_target.hpp). Read by
// config.cpp's rule reader, which hands over the keys it does not know itself; errors go out
// through `error` with the node they are about.
#pragma once

#include <toml++/toml.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.hpp"

namespace passthru::core {

using RuleEntries = std::vector<std::pair<const toml::key*, const toml::node*>>;
using NodeError = std::function<void(const toml::node&, std::string)>;
using KeyError = std::function<void(const toml::key&, std::string)>;
/// Where a node was written in the config file (the loader knows: a JSON config's TOML is not it).
using NodePosition = std::function<passthru::sdk::SourcePosition(const toml::node&)>;

/// Whether `key` is one of the keys read here.
bool is_routing_key(std::string_view key) noexcept;

/// What an `allow` list on any other to_addr is told: the two targets it bounds.
inline constexpr std::string_view kAllowWithoutItsTarget =
    "allow goes with to_addr = \"STREAM\" or a to_addr built from the client's name: \"{sni}:443\" or \"{host}:80\"";

/// Reads the routing keys of a rule whose kind is already in `action`; `to_addr` is its to_addr
/// when that is a list or a name-built "{sni}:PORT" / "{host}:PORT" (nullptr otherwise). False
/// after reporting an error.
bool read_routing_keys(const RuleEntries& keys, const toml::node* to_addr, Action& action, const NodeError& error,
                       const KeyError& key_error, const NodePosition& position);

/// The checks that need the table a rule is in: tls_alert in a TLS table, http in an HTTP one;
/// {sni} on a TLS rule and {host} on an HTTP one, bounded by the rule's name matcher or an allow
/// list. `table` is the protocol's name, or "" for the server CATCHALL.
void check_table_rule(std::string_view table, const Action& action,
                        const std::function<void(passthru::sdk::SourcePosition, std::string)>& error);

}  // namespace passthru::core
