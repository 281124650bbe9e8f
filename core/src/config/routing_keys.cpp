#include "routing_keys.hpp"

namespace passthru::core {

namespace {

constexpr std::int64_t kMaxDownMs = 2'147'483'647;

passthru::sdk::SourcePosition position(const toml::node& node) {
  return {static_cast<std::uint32_t>(node.source().begin.line), static_cast<std::uint32_t>(node.source().begin.column)};
}

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

}  // namespace

bool is_routing_key(std::string_view key) noexcept {
  return key == "balance" || key == "down_ms" || key == "from" || key == "not_from" || key == "reject" ||
         key == "status";
}

bool read_routing_keys(const RuleEntries& keys, const toml::node* to_addr, Action& action, const NodeError& error,
                       const KeyError& key_error) {
  const toml::node* balance = nullptr;
  const toml::node* down_ms = nullptr;
  const toml::node* reject = nullptr;
  const toml::node* status = nullptr;
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

void check_reject_style(std::string_view table, const Action& action,
                        const std::function<void(passthru::sdk::SourcePosition, std::string)>& error) {
  if (action.kind != ActionKind::Reject) return;
  if (action.reject == RejectStyle::TlsAlert && table != "TLS")
    error(action.reject_at, "reject = \"tls_alert\" goes in a TLS table only: other clients do not read a TLS alert");
  if (action.reject == RejectStyle::Http && table != "HTTP")
    error(action.reject_at, "reject = \"http\" goes in an HTTP table only: other clients do not read an HTTP response");
}

}  // namespace passthru::core
