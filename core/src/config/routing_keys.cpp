#include "routing_keys.hpp"

namespace passthru::core {

namespace {

constexpr std::int64_t kMaxDownMs = 2'147'483'647;

bool read_prefixes(const toml::node& node, std::string_view key, std::vector<Prefix>& out, const NodeError& error) {
  const auto* list = node.as_array();
  if (!list || list->empty()) {
    error(node, std::string(key) + " must be a list of addresses or prefixes, e.g. [\"10.0.0.0/8\", \"2001:db8::/32\"]");
    return false;
  }
  for (const auto& item : *list) {
    auto text = item.value<std::string>();
    std::string why = "an entry must be a string such as \"10.0.0.0/8\"";
    auto prefix = text ? parse_prefix(*text, why) : std::nullopt;
    if (!prefix) {
      error(item, std::string(key) + ": " + why);
      return false;
    }
    out.push_back(*prefix);
  }
  return true;
}

bool read_backends(const toml::node& node, std::vector<Endpoint>& out, const NodeError& error) {
  const auto* list = node.as_array();
  if (list->empty() || list->size() > BackendPool::kMaxBackends) {
    error(node, "a to_addr list holds 1 to " + std::to_string(BackendPool::kMaxBackends) + " \"host:port\" backends");
    return false;
  }
  for (const auto& item : *list) {
    auto text = item.value<std::string>();
    std::string why = "each backend in to_addr must be a string \"host:port\"";
    auto endpoint = text ? parse_endpoint(*text, true, PortRule::NonZero, why) : std::nullopt;
    if (text && *text == "ORIGINAL") {
      endpoint.reset();
      why = "ORIGINAL stands alone: it cannot be one of several backends";
    }
    if (!endpoint) {
      error(item, why);
      return false;
    }
    for (const Endpoint& other : out)
      if (other.to_string() == endpoint->to_string()) {
        error(item, "backend " + endpoint->to_string() + " is listed twice");
        return false;
      }
    out.push_back(*endpoint);
  }
  return true;
}

/// to_addr = "{sni}:PORT" or "{host}:PORT", and the allow list that may go with it.
bool read_name_target(const toml::node& to_addr, const toml::node* allow, Action& action, const NodeError& error) {
  std::string text = *to_addr.value<std::string>();
  std::string_view rest = text;
  if (rest.starts_with("{sni}:")) action.name_target = NameSource::Sni;
  else if (rest.starts_with("{host}:")) action.name_target = NameSource::Host;
  std::string why = "to_addr built from the client's name is \"{sni}:PORT\" or \"{host}:PORT\"";
  std::optional<Endpoint> port;
  if (action.name_target != NameSource::None)
    port = parse_endpoint("name" + std::string(rest.substr(rest.find(':'))), true, PortRule::NonZero, why);
  if (!port) {
    error(to_addr, why);
    return false;
  }
  action.to = Endpoint{text.substr(0, text.find(':')), port->port};
  if (!allow) return true;
  const auto* list = allow->as_array();
  if (!list || list->empty()) {
    error(*allow, "allow must be a list of names and prefixes, e.g. [\".example.net\", \"10.0.0.0/8\"]");
    return false;
  }
  auto allowed = std::make_shared<NameAllow>();
  for (const auto& item : *list) {
    auto entry = item.value<std::string>();
    std::string ignored;
    if (auto prefix = entry ? parse_prefix(*entry, ignored) : std::nullopt) {
      allowed->addresses.push_back(*prefix);
      continue;
    }
    std::optional<std::string> name;
    if (entry) name = target_host(entry->starts_with('.') ? entry->substr(1) : *entry, nullptr);
    if (!name) {
      error(item, "allow: an entry is a name (\"example.org\"), a domain with all its names (\".example.net\") or an "
                  "address prefix (\"10.0.0.0/8\")");
      return false;
    }
    allowed->names.push_back(entry->starts_with('.') ? "." + *name : *name);
  }
  action.name_allow = std::move(allowed);
  return true;
}

}  // namespace

bool is_routing_key(std::string_view key) noexcept {
  return key == "balance" || key == "down_ms" || key == "from" || key == "not_from" || key == "reject" ||
         key == "status" || key == "allow";
}

bool read_routing_keys(const RuleEntries& keys, const toml::node* to_addr, Action& action, const NodeError& error,
                       const KeyError& key_error, const NodePosition& position) {
  const toml::node* balance = nullptr;
  const toml::node* down_ms = nullptr;
  const toml::node* reject = nullptr;
  const toml::node* status = nullptr;
  const toml::node* allow = nullptr;
  for (const auto& [key, value] : keys) {
    std::string_view name = key->str();
    if (name == "from" || name == "not_from") {
      if (!read_prefixes(*value, name, name == "from" ? action.client.from : action.client.not_from, error)) return false;
    } else if (name == "balance" || name == "down_ms") {
      if (action.kind != ActionKind::Forward || !to_addr) {
        key_error(*key, std::string(name) + " goes with a FORWARD whose to_addr is a list of backends");
        return false;
      }
      (name == "balance" ? balance : down_ms) = value;
    } else if (name == "allow") {
      allow = value;
    } else if (name == "reject" || name == "status") {
      if (action.kind != ActionKind::Reject) {
        key_error(*key, std::string(name) + " goes with REJECT only: it says how the connection is refused");
        return false;
      }
      (name == "reject" ? reject : status) = value;
    }
  }
  if (reject) {
    auto style = reject->value<std::string>();
    if (!style || (*style != "close" && *style != "reset" && *style != "tls_alert" && *style != "http")) {
      error(*reject, "reject must be \"close\", \"reset\", \"tls_alert\" (TLS tables) or \"http\" (HTTP tables)");
      return false;
    }
    action.reject = *style == "close"   ? RejectStyle::Close
                    : *style == "reset" ? RejectStyle::Reset
                    : *style == "tls_alert" ? RejectStyle::TlsAlert
                                            : RejectStyle::Http;
    action.reject_at = position(*reject);
  }
  if (status) {
    auto code = status->value<std::int64_t>();
    if (action.reject != RejectStyle::Http) {
      error(*status, "status goes with reject = \"http\"");
      return false;
    }
    if (!code || *code < 400 || *code > 599) {
      error(*status, "status must be an HTTP error status from 400 to 599");
      return false;
    }
    action.status = static_cast<std::uint16_t>(*code);
  }
  if (to_addr && to_addr->is_string()) {
    if (balance || down_ms) {
      error(balance ? *balance : *down_ms, "balance and down_ms go with a to_addr list of backends");
      return false;
    }
    return read_name_target(*to_addr, allow, action, error);
  }
  if (allow) {
    error(*allow, std::string(kAllowWithoutItsTarget));
    return false;
  }
  if (!to_addr) return true;
  std::vector<Endpoint> backends;
  if (!read_backends(*to_addr, backends, error)) return false;
  Balance how = Balance::RoundRobin;
  if (balance) {
    auto text = balance->value<std::string>();
    if (!text || (*text != "round_robin" && *text != "least_conn" && *text != "source_hash")) {
      error(*balance, "balance must be \"round_robin\", \"least_conn\" or \"source_hash\"");
      return false;
    }
    how = *text == "round_robin" ? Balance::RoundRobin : *text == "least_conn" ? Balance::LeastConn : Balance::SourceHash;
  }
  std::uint32_t down = 10'000;
  if (down_ms) {
    auto value = down_ms->value<std::int64_t>();
    if (!value || *value < 0 || *value > kMaxDownMs) {
      error(*down_ms, "down_ms must be a whole number from 0 to " + std::to_string(kMaxDownMs));
      return false;
    }
    down = static_cast<std::uint32_t>(*value);
  }
  action.to = backends.front();
  action.pool = std::make_shared<BackendPool>(std::move(backends), how, down);
  return true;
}

void check_table_rule(std::string_view table, const Action& action,
                      const std::function<void(passthru::sdk::SourcePosition, std::string)>& error) {
  if (action.name_target != NameSource::None) {
    bool sni = action.name_target == NameSource::Sni;
    std::string_view matcher = sni ? "SNI " : "HOST ";
    if (table != (sni ? "TLS" : "HTTP"))
      error(action.to_addr_at, std::string("to_addr = \"") + (sni ? "{sni}" : "{host}") + ":...\" goes on a rule in " +
                                   (sni ? "a TLS" : "an HTTP") + " table: only its clients name a " + (sni ? "server" : "host"));
    else if (!action.name_allow && !(action.rule.starts_with(matcher) && action.rule.find('[') == std::string::npos))
      error(action.to_addr_at, "rule '" + action.rule + "' would connect wherever a client's name points (an open "
                               "proxy): build to_addr from the name on an exact or wildcard " + std::string(matcher) +
                               "rule, or add allow = [\".example.net\", \"10.0.0.0/8\"]");
  }
  // A tunnel's streams select these by NAME or SERVICE (select_rule), where no condition is checked.
  if (table == "MPROXY" && !action.client.empty() && action.rule != "CATCHALL" &&
      (action.kind == ActionKind::Forward || action.kind == ActionKind::Reject))
    error(action.where, "from and not_from on an MPROXY FORWARD or REJECT rule would not be checked for the tunnel "
                        "streams that select it by NAME or SERVICE: put the condition on the DEMUX rule");
  if (action.kind != ActionKind::Reject) return;
  if (action.reject == RejectStyle::TlsAlert && table != "TLS")
    error(action.reject_at, "reject = \"tls_alert\" goes in a TLS table only: other clients do not read a TLS alert");
  if (action.reject == RejectStyle::Http && table != "HTTP")
    error(action.reject_at, "reject = \"http\" goes in an HTTP table only: other clients do not read an HTTP response");
}

}  // namespace passthru::core
