#include "config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "../plugin_host/plugin_registry.hpp"
#include "../server/privileges.hpp"
#include "go_config.hpp"
#include "routing_keys.hpp"

namespace passthru::core {

namespace fs = std::filesystem;
using passthru::sdk::SourcePosition;

namespace {

/// The longest timeout a key may set: about 24 days, within what a uv_timer and a signed
/// 32-bit millisecond count both hold.
constexpr std::int64_t kMaxTimeoutMs = 2'147'483'647;

/// The most connections a limit may name (0 being none): far past any process's descriptors.
constexpr std::int64_t kMaxConnections = 1 << 24;

/// to_addr's word for a transparent connection's original destination.
constexpr std::string_view kOriginal = "ORIGINAL";

/// "original" or "Original:8443": ORIGINAL meant, in the wrong case (a host name would not
/// resolve to the original destination).
bool is_original_in_other_case(std::string_view text) {
  std::string_view host = text.substr(0, text.find(':'));
  return host.size() == kOriginal.size() && host != kOriginal &&
         std::equal(host.begin(), host.end(), kOriginal.begin(),
                    [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; });
}

SourcePosition toml_position(const toml::source_region& region) {
  return {static_cast<std::uint32_t>(region.begin.line), static_cast<std::uint32_t>(region.begin.column)};
}

bool comes_before(const toml::source_region& a, const toml::source_region& b) {
  return std::pair(a.begin.line, a.begin.column) < std::pair(b.begin.line, b.begin.column);
}

/// The entries of a table in the order the file wrote them (toml++ keeps them sorted by name).
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (const auto& [key, node] : table) entries.emplace_back(&key, &node);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return comes_before(a.first->source(), b.first->source());
  });
  return entries;
}

class Loader {
 public:
  Loader(const fs::path& path, PluginRegistry& registry, std::vector<std::string>& errors,
         std::vector<std::string>* notes)
      : path_(path), registry_(registry), errors_(errors), notes_(notes) {}

  std::optional<Config> load() {
    std::ifstream probe(path_);
    if (!probe) {
      errors_.push_back(path_.string() + ": error: cannot read the config file: " +
                        std::strerror(errno));
      return std::nullopt;
    }
    toml::table root;
    try {
      if (is_json_config(path_)) {
        std::string json((std::istreambuf_iterator<char>(probe)), std::istreambuf_iterator<char>());
        if (!translate_json(json)) return std::nullopt;
        root = toml::parse(std::string_view(json_->toml), path_.string());
      } else {
        root = toml::parse_file(path_.string());
      }
    } catch (const toml::parse_error& e) {
      error(position_of(e.source()), std::string(e.description()));
      return std::nullopt;
    }
    Config config;
    config.path = path_;
    read_top_level(root, config);
    if (!errors_.empty()) return std::nullopt;  // plugins must load before tables are read
    if (const auto* tunnels = root.get("tunnels")) read_tunnels(*tunnels, config);
    if (const auto* servers = root.get("servers")) read_servers(*servers, config);
    check_mux_rules(config);
    if (config.servers.empty() && errors_.empty())
      error({1, 1}, "no listener: add a table such as [servers.\"127.0.0.1:8443\"]");
    if (!errors_.empty()) return std::nullopt;
    for (const auto& [name, plugin] : registry_.all()) config.plugins.push_back({name, plugin.path.string()});
    return config;
  }

 private:
  /// A passthru (Go) JSON config becomes the TOML it stands for (go_config.hpp); positions in
  /// that text are told as the JSON's from here on.
  bool translate_json(std::string_view json) {
    std::vector<JsonDiagnostic> errors;
    json_ = translate_go_config(json, path_.filename().string(), errors);
    for (const JsonDiagnostic& e : errors) error(e.where, e.message);
    if (json_ && notes_)
      for (const JsonDiagnostic& n : json_->notes) notes_->push_back(format_note(path_, n.where, n.message));
    return json_.has_value();
  }
  /// Where something toml++ read was written: in the file, also when that is JSON.
  SourcePosition position_of(const toml::source_region& region) const {
    return json_ ? json_->positions.json_position(toml_position(region)) : toml_position(region);
  }

  void error(SourcePosition where, std::string message) {
    errors_.push_back(format_error(path_, where, message));
  }
  void error_at(const toml::node& node, std::string message) {
    error(position_of(node.source()), std::move(message));
  }
  void error_at(const toml::key& key, std::string message) {
    error(position_of(key.source()), std::move(message));
  }

  /// `user` and `group`: names of an account that exists (looked up now, so --check says so).
  void read_account_key(const toml::key& key, const toml::node& node, Config& config) {
    auto value = node.value<std::string>();
    bool is_user = key.str() == "user";
    if (!value || value->empty()) {
      error_at(node, std::string(key.str()) + " must be the name of a " + (is_user ? "user" : "group") +
                         " to run as once listening, such as \"passthru\"");
      return;
    }
    (is_user ? config.user : config.group) = *value;
    (is_user ? user_at_ : group_at_) = position_of(node.source());
  }
  /// Once both keys are read: the account must exist, and a group goes with a user.
  void check_account(const Config& config) {
    if (config.user.empty() && !config.group.empty()) {
      error(group_at_, "group needs user: passthru changes its group only when it changes its user");
      return;
    }
    std::string why;
    if (!config.user.empty() && !find_account(config.user, config.group, why))
      error(why.rfind("no such group", 0) == 0 ? group_at_ : user_at_, why);
  }

  void read_top_level(const toml::table& root, Config& config) {
    std::vector<fs::path> plugin_dirs = builtin_plugin_dirs();
    std::optional<SourcePosition> plugin_dir_at;
    for (const auto& [key, node] : root) {
      std::string_view name = key.str();
      if (name == "plugin_dir") {
        auto dir = node.value<std::string>();
        if (!dir) {
          error_at(node, "plugin_dir must be a string: a folder of plugin .so files");
          continue;
        }
        fs::path folder(*dir);
        if (folder.is_relative()) folder = (path_.parent_path() / folder).lexically_normal();
        plugin_dirs.push_back(folder);
        plugin_dir_at = position_of(node.source());
      } else if (name == "log_level") {
        static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
        auto level = node.value<std::string>();
        if (!level || !levels.count(*level))
          error_at(node, "log_level must be one of trace, debug, info, warn, error, off");
        else
          config.log_level = *level;
      } else if (name == "workers") {
        auto workers = node.value<std::int64_t>();
        if (!workers || *workers < 0 || *workers > 256)
          error_at(node, "workers must be a whole number from 0 (one per CPU core) to 256");
        else
          config.workers = static_cast<unsigned>(*workers);
      } else if (name == "user" || name == "group") {
        read_account_key(key, node, config);
      } else if (name == "max_connections") {
        read_option(key, node, config.max_connections, 0, kMaxConnections);
      } else if (name == "drain_timeout_ms") {
        read_option(key, node, config.drain_timeout_ms, 0, kMaxTimeoutMs);
      } else if (name == "log_format") {
        auto format = node.value<std::string>();
        if (!format || (*format != "text" && *format != "json"))
          error_at(node, "log_format must be \"text\" or \"json\"");
        else
          config.log_json = *format == "json";
      } else if (name == "log_file") {
        auto file = node.value<std::string>();
        if (!file || file->empty()) {
          error_at(node, "log_file must be the path of a file to append log lines to");
          continue;
        }
        fs::path log_file(*file);
        if (log_file.is_relative()) log_file = (path_.parent_path() / log_file).lexically_normal();
        config.log_file = log_file;
        config.log_file_where = position_of(node.source());
      } else if (name == "watch_config") {
        auto watch = node.value<bool>();
        if (!watch || !node.is_boolean())
          error_at(node, "watch_config must be true or false");
        else
          config.watch_config = *watch;
      } else if (name == "metrics") {
        read_metrics(node, config);
      } else if (name == "servers") {
        if (!node.is_table()) error_at(node, "servers must be a table of listeners");
      } else if (name == "tunnels") {
        if (!node.is_table()) error_at(node, "tunnels must be a table: [tunnels.NAME] connect = \"host:port\"");
      } else {
        error_at(key, "unknown top-level key '" + std::string(name) +
                          "'; known keys: plugin_dir, log_level, workers, max_connections, drain_timeout_ms, "
                          "log_format, log_file, watch_config, metrics, user, group, servers, tunnels");
      }
    }
    check_account(config);
    for (const auto& dir : plugin_dirs) {
      std::vector<std::string> refused;
      registry_.load_directory(dir, refused);
      bool is_users = plugin_dir_at && dir == plugin_dirs.back();
      for (auto& why : refused) error(is_users ? *plugin_dir_at : SourcePosition{}, why);
    }
  }

  void read_metrics(const toml::node& node, Config& config) {
    const auto* table = node.as_table();
    if (!table) {
      error_at(node, "metrics must be a table: [metrics] listen = \"127.0.0.1:9100\"");
      return;
    }
    for (const auto& [key, value] : *table) {
      if (key.str() != "listen") {
        error_at(key, "unknown metrics option '" + std::string(key.str()) + "'; known options: listen");
        continue;
      }
      std::string why;
      auto text = value.value<std::string>();
      auto listen = text ? parse_endpoint(*text, false, PortRule::AllowZero, why) : std::nullopt;
      if (!listen) {
        error_at(value, "metrics listen must be an \"address:port\" to serve /metrics on" +
                            (why.empty() ? std::string() : ": " + why));
        continue;
      }
      config.metrics_listen = *listen;
      config.metrics_where = position_of(value.source());
    }
  }

  void read_servers(const toml::node& servers, Config& config) {
    const auto* table = servers.as_table();
    if (!table) return;
    for (const auto& [key, node] : in_file_order(*table)) {
      ServerConfig server;
      server.key = std::string(key->str());
      server.where = position_of(key->source());
      std::string why;
      auto listen = parse_endpoint(server.key, false, PortRule::AllowZero, why);
      if (!listen) error_at(*key, "listener " + why);
      else server.listen = *listen;
      if (!node->is_table()) {
        error_at(*node, "listener '" + server.key + "' must be a table of options and protocols");
        continue;
      }
      read_server(*node->as_table(), server);
      config.servers.push_back(std::move(server));
    }
  }

  bool read_option(const toml::key& key, const toml::node& node, std::uint32_t& out,
                   std::int64_t low, std::int64_t high) {
    auto value = node.value<std::int64_t>();
    if (!value || *value < low || *value > high) {
      error_at(node, std::string(key.str()) + " must be a whole number from " + std::to_string(low) +
                         " to " + std::to_string(high));
      return false;
    }
    out = static_cast<std::uint32_t>(*value);
    return true;
  }

  /// Reads idle_timeout_ms, half_closed_timeout_ms or max_lifetime_ms into `keys`; false if
  /// `key` is none of them.
  bool read_timeout_key(const toml::key& key, const toml::node& node, TimeoutKeys& keys) {
    std::optional<std::uint32_t>* slot = key.str() == "idle_timeout_ms"          ? &keys.idle_ms
                                         : key.str() == "half_closed_timeout_ms" ? &keys.half_closed_ms
                                         : key.str() == "max_lifetime_ms"        ? &keys.max_lifetime_ms
                                                                                 : nullptr;
    if (!slot) return false;
    std::uint32_t value = 0;
    if (read_option(key, node, value, 0, kMaxTimeoutMs)) *slot = value;
    return true;
  }

  /// A FORWARD rule's timeouts: its own keys, else its listener's, else the defaults; the
  /// half-closed timeout defaults to whatever idle timeout applies.
  static void resolve_timeouts(const TimeoutKeys& listener, Action& action) {
    const TimeoutKeys& rule = action.timeout_keys;
    RelayTimeouts& out = action.timeouts;
    out.idle_ms = rule.idle_ms.value_or(listener.idle_ms.value_or(RelayTimeouts{}.idle_ms));
    out.half_closed_ms = rule.half_closed_ms.value_or(listener.half_closed_ms.value_or(out.idle_ms));
    out.max_lifetime_ms = rule.max_lifetime_ms.value_or(listener.max_lifetime_ms.value_or(0));
  }

  /// `tunnel_routes`: the tables of a [tunnels.NAME], which route only the streams its far end opens.
  void read_server(const toml::table& table, ServerConfig& server, bool tunnel_routes = false) {
    read_server_entries(table, server);
    for (ProtocolTable& protocol : server.protocols)
      for (Action& action : protocol.actions) resolve_timeouts(server.timeout_keys, action);
    if (server.catchall) resolve_timeouts(server.timeout_keys, *server.catchall);
    check_forward_targets(server, tunnel_routes);
  }

  /// What a FORWARD's targets need of their listener: ORIGINAL a transparent listener, source a
  /// target of the family its clients have; neither goes with a DEMUX rule or in a tunnel's
  /// tables, whose streams were not diverted by the kernel and have no address of their own to
  /// bind. STREAM needs streams: a DEMUX rule beside it, or a tunnel's tables.
  void check_forward_targets(const ServerConfig& server, bool tunnel_routes) {
    std::vector<const Action*> actions = actions_of(server);
    bool demux = std::any_of(actions.begin(), actions.end(), [](const Action* a) { return a->kind == ActionKind::Demux; });
    for (const Action* action : actions) {
      if (action->kind != ActionKind::Forward) continue;
      if (action->to_stream && !demux && !tunnel_routes)
        error(action->to_addr_at, "to_addr = \"STREAM\" sends a tunnel's stream to the destination it names, and no "
                                  "stream arrives at this listener: give it a DEMUX rule, or put this rule in a "
                                  "[tunnels.NAME] table");
      else if (tunnel_routes && (action->to_original || action->source != SourceKind::Own))
        error(action->to_original ? action->to_addr_at : action->source_at,
              "a tunnel's tables route the streams its far end opens; ORIGINAL and source are for connections the "
              "kernel diverted to passthru, not for streams inside a tunnel");
      else if (action->to_original && !server.transparent)
        error(action->to_addr_at, "to_addr = \"ORIGINAL\" needs a transparent listener: add transparent = true to "
                                  "[servers.\"" + server.key + "\"] and TPROXY rules (README: transparent mode)");
      else if (demux && (action->to_original || action->source != SourceKind::Own))
        error(action->to_original ? action->to_addr_at : action->source_at,
              "this listener has a DEMUX rule, whose M-PROXY streams could take this rule too; ORIGINAL and source are "
              "for connections the kernel diverted to passthru, not for streams inside a tunnel");
      else if (action->source != SourceKind::Own && !action->to_original)
        check_source_family(server, *action);
      else if (demux && action->pool)
        error(action->to_addr_at, "this listener has a DEMUX rule, whose M-PROXY streams could take this rule too, "
                                  "and a stream goes to one backend: give this rule one to_addr");
      else if (demux && action->name_target != NameSource::None)
        error(action->to_addr_at, "this listener has a DEMUX rule, whose M-PROXY streams could take this rule too, "
                                  "and a stream connects to a fixed to_addr: build no target from the name here");
    }
  }

  /// A client can connect to a backend from its own address only in its own family: an IPv4
  /// listener has IPv4 clients only, an IPv6 one IPv6 clients only, unless it is [::] (both).
  void check_source_family(const ServerConfig& server, const Action& action) {
    if (action.pool)
      for (const Endpoint& backend : action.pool->backends())
        if (backend.address.ss_family != action.to.address.ss_family) {
          error(action.source_at, "source needs backends of one family: " + backend.to_string() + " and " +
                                      action.to.to_string() + " differ");
          return;
        }
    sa_family_t target = action.to.address.ss_family;
    sa_family_t listener = server.listen.address.ss_family;
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(server.listen.address).sin6_addr;
    bool both = listener == AF_INET6 && (IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_V4MAPPED(&v6));
    if (target == listener || both) return;
    const char* clients = listener == AF_INET ? "IPv4" : "IPv6";
    const char* other = target == AF_INET ? "IPv4" : "IPv6";
    error(action.source_at, std::string("source needs a target of its clients' family: listener ") + server.key +
                                " has " + clients + " clients only, and " + action.to.to_string() + " is " + other);
  }

  void read_server_entries(const toml::table& table, ServerConfig& server) {
    for (const auto& [key, node] : in_file_order(table)) {
      std::string name(key->str());
      if (node->is_table()) {
        if (name == "CATCHALL")
          read_server_catchall(*key, *node->as_table(), server);
        else
          read_protocol(*key, *node->as_table(), server);
        if (server.protocols.size() > kMaxProtocolsPerServer)
          error_at(*key, "a listener has at most " + std::to_string(kMaxProtocolsPerServer) + " protocols");
      } else if (name == "timeout_ms") {
        read_option(*key, *node, server.timeout_ms, 1, 3'600'000);
      } else if (name == "max_sniff_bytes") {
        read_option(*key, *node, server.max_sniff_bytes, 64, 1 << 20);
      } else if (name == "connect_timeout_ms") {
        read_option(*key, *node, server.connect_timeout_ms, 1, 3'600'000);
      } else if (name == "max_connections") {
        read_option(*key, *node, server.max_connections, 0, kMaxConnections);
      } else if (name == "max_connections_per_source") {
        read_option(*key, *node, server.max_connections_per_source, 0, kMaxConnections);
      } else if (name == "transparent") {
        auto on = node->value<bool>();
        if (!on) error_at(*node, "transparent must be true or false");
        else server.transparent = *on;
      } else if (!read_timeout_key(*key, *node, server.timeout_keys)) {
        error_at(*key, "unknown listener option '" + name +
                           "'; options are timeout_ms, max_sniff_bytes, connect_timeout_ms, idle_timeout_ms, "
                           "half_closed_timeout_ms, max_lifetime_ms, max_connections, max_connections_per_source, "
                           "transparent, and a sub-table is a protocol: [servers.\"" + server.key + "\".TLS]");
      }
    }
  }

  void read_server_catchall(const toml::key& key, const toml::table& table, ServerConfig& server) {
    for (const auto& [rule_key, node] : table) {
      if (rule_key.str() != "CATCHALL") {
        error_at(rule_key, "the server CATCHALL table takes one rule, CATCHALL = { action = ... }");
        continue;
      }
      auto action = read_action(node, "CATCHALL");
      if (action) action->where = position_of(rule_key.source());
      if (action && (action->kind == ActionKind::Unwrap || action->kind == ActionKind::Demux))
        error_at(node, "UNWRAP and DEMUX belong in a protocol table (PROXY, MPROXY); the server CATCHALL can FORWARD, REJECT or MUX");
      else if (action)
        server.catchall = *action;
      if (action) check_table_rule("", *action, [this](SourcePosition at, std::string m) { error(at, std::move(m)); });
    }
    if (table.empty()) error_at(key, "the server CATCHALL table is empty: add CATCHALL = { action = \"REJECT\" }");
  }

  void read_protocol(const toml::key& key, const toml::table& table, ServerConfig& server) {
    std::string name(key.str());
    const LoadedPlugin* plugin = registry_.find(name);
    if (!plugin) {
      std::string hint = " (add a plugin_dir for a plugin of your own)";
      for (const auto& [known, loaded] : registry_.all())
        if (std::equal(known.begin(), known.end(), name.begin(), name.end(),
                       [](char a, char b) { return std::toupper(a) == std::toupper(b); }))
          hint = "; did you mean '" + known + "'? Table names are case-sensitive";
      error_at(key, "unknown protocol '" + name + "'; loaded plugins: " + registry_.names() + hint);
      return;
    }
    for (const auto& other : server.protocols)
      if (other.name == name) error_at(key, "protocol '" + name + "' appears twice in this listener");
    ProtocolTable protocol{name, plugin->create(), {}};
    if (!protocol.protocol) {
      error_at(key, plugin->path.string() + ": the plugin could not create its protocol");
      return;
    }
    std::vector<passthru::sdk::RuleKey> keys;
    for (const auto& [rule_key, node] : in_file_order(table)) {
      std::string text(rule_key->str());
      keys.push_back({text, position_of(rule_key->source())});
      auto action = read_action(*node, text);
      if (action) action->where = position_of(rule_key->source());
      if (action) check_table_rule(name, *action, [this](SourcePosition at, std::string m) { error(at, std::move(m)); });
      protocol.actions.push_back(action.value_or(Action{}));
    }
    passthru::sdk::Diagnostics diagnostics;
    plugin->descriptor->apply_rules(*protocol.protocol, keys, diagnostics);
    for (const auto& d : diagnostics.all())
      error(d.where.line ? d.where : position_of(key.source()), name + ": " + d.message);
    server.protocols.push_back(std::move(protocol));
  }

  std::optional<Action> read_action(const toml::node& node, const std::string& rule) {
    const auto* table = node.as_table();
    if (!table) {
      error_at(node, "rule '" + rule + "' must be a table: { action = \"FORWARD\", to_addr = \"host:port\" }");
      return std::nullopt;
    }
    Action action;
    action.rule = rule;
    bool ok = true;
    std::optional<std::string> kind;
    const toml::node* to_addr = nullptr;
    const toml::node* send_proxy = nullptr;
    const toml::node* v2_options = nullptr;
    const toml::node* source = nullptr;
    std::vector<std::pair<const toml::key*, const toml::node*>> mux_keys;
    std::string tls_cert, tls_key;
    const toml::node* allow = nullptr;  // to_addr = "STREAM"'s; a name-built target's goes to `routing`
    const toml::key* allow_key = nullptr;
    const toml::node* tls_at = nullptr;
    std::vector<std::pair<const toml::key*, const toml::node*>> limits;
    std::vector<std::pair<const toml::key*, const toml::node*>> timeouts;
    RuleEntries routing;  // routing_keys.cpp's: balance, down_ms, from, not_from, reject, status
    bool has_action = false;
    for (const auto& [key, value] : in_file_order(*table)) {
      if (key->str() == "action") {
        has_action = true;
        kind = value->value<std::string>();
        if (!kind || (*kind != "FORWARD" && *kind != "REJECT" && *kind != "UNWRAP" && *kind != "DEMUX" && *kind != "MUX")) {
          error_at(*value, "action must be \"FORWARD\", \"REJECT\", \"UNWRAP\", \"DEMUX\" or \"MUX\"");
          ok = false;
        }
      } else if (key->str() == "to_addr") {
        to_addr = value;
      } else if (key->str() == "allow") {
        allow = value;
        allow_key = key;
      } else if (key->str() == "tunnel" || key->str() == "service" || key->str() == "name") {
        mux_keys.emplace_back(key, value);
      } else if (key->str() == "tokens_file" || key->str() == "tls_cert" || key->str() == "tls_key") {
        limits.emplace_back(key, value);
      } else if (key->str() == "send_proxy") {
        send_proxy = value;
      } else if (key->str() == "proxy_v2_options") {
        v2_options = value;
      } else if (key->str() == "source") {
        source = value;
      } else if (key->str() == "max_streams" || key->str() == "max_message_bytes" || key->str() == "max_stream_buffer" ||
                 key->str() == "keepalive_ms") {
        limits.emplace_back(key, value);
      } else if (key->str() == "idle_timeout_ms" || key->str() == "half_closed_timeout_ms" ||
                 key->str() == "max_lifetime_ms") {
        timeouts.emplace_back(key, value);
      } else if (is_routing_key(key->str())) {
        routing.emplace_back(key, value);
      } else {
        error_at(*key, "unknown key '" + std::string(key->str()) + "' in rule '" + rule +
                           "'; a rule takes action, to_addr, source, allow, send_proxy, proxy_v2_options, "
                           "idle_timeout_ms, half_closed_timeout_ms, max_lifetime_ms, balance, down_ms, from, "
                           "not_from, reject, status, for DEMUX max_streams, max_message_bytes, max_stream_buffer, "
                           "keepalive_ms, tokens_file, tls_cert and tls_key, and for MUX tunnel, service and name");
        ok = false;
      }
    }
    if (!has_action)
      error_at(node, "rule '" + rule + "' has no action: add action = \"FORWARD\" or \"REJECT\"");
    if (!has_action || !kind || (*kind != "FORWARD" && *kind != "REJECT" && *kind != "UNWRAP" && *kind != "DEMUX" && *kind != "MUX"))
      return std::nullopt;
    action.kind = *kind == "FORWARD"  ? ActionKind::Forward
                  : *kind == "REJECT" ? ActionKind::Reject
                  : *kind == "UNWRAP" ? ActionKind::Unwrap
                  : *kind == "MUX"    ? ActionKind::Mux
                                      : ActionKind::Demux;
    if (!read_mux_keys(node, mux_keys, action)) return std::nullopt;
    for (const auto& [key, value] : limits) {
      if (action.kind != ActionKind::Demux) {
        error_at(*key, std::string(key->str()) + " goes with DEMUX only");
        return std::nullopt;
      }
      if (key->str() == "tls_cert" || key->str() == "tls_key") {
        auto file = value->value<std::string>();
        (key->str() == "tls_cert" ? tls_cert : tls_key) = file ? relative_to_config(*file).string() : "";
        tls_at = value;
        continue;
      }
      if (key->str() == "tokens_file") {
        std::string why;
        auto file = value->value<std::string>();
        auto tokens = file ? read_tokens_file(relative_to_config(*file), why) : std::nullopt;
        if (!tokens) {
          error_at(*value, "tokens_file must name a file of grants, TOKEN TUNNEL [NAME ...] a line" +
                               (why.empty() ? std::string() : ": " + why));
          return std::nullopt;
        }
        action.tokens = std::make_shared<const TunnelTokens>(std::move(*tokens));
        continue;
      }
      if (key->str() == "keepalive_ms") {
        if (!read_option(*key, *value, action.demux.keepalive_ms, 0, 3'600'000)) return std::nullopt;
        continue;
      }
      std::uint32_t& limit = key->str() == "max_streams"         ? action.demux.max_streams
                             : key->str() == "max_message_bytes" ? action.demux.max_message_bytes
                                                                 : action.demux.max_stream_buffer;
      if (!read_option(*key, *value, limit, 1, 1 << 30)) return std::nullopt;
    }
    if (tls_at) {
      std::string why;
      if (tls_cert.empty() || tls_key.empty()) why = "a DEMUX rule's TLS needs both tls_cert and tls_key (PEM files)";
      else action.tls = make_tls_server_context(tls_cert, tls_key, why);
      if (!action.tls) {
        error_at(*tls_at, why);
        return std::nullopt;
      }
    }
    for (const auto& [key, value] : timeouts) {
      if (action.kind != ActionKind::Forward) {
        error_at(*key, std::string(key->str()) + " goes with FORWARD only: it times the relay a FORWARD starts");
        return std::nullopt;
      }
      std::size_t errors_before = errors_.size();
      read_timeout_key(*key, *value, action.timeout_keys);
      if (errors_.size() != errors_before) return std::nullopt;
    }
    const toml::node* backend_list = to_addr && to_addr->is_array() && action.kind == ActionKind::Forward ? to_addr : nullptr;
    const toml::node* name_target = nullptr;  // "{sni}:443", "{host}:80"
    if (auto text = to_addr ? to_addr->value<std::string>() : std::nullopt;
        text && text->starts_with('{') && action.kind == ActionKind::Forward)
      name_target = to_addr;
    if (allow && name_target) {  // the same key, for the names a "{sni}:PORT" target may reach
      routing.emplace_back(allow_key, allow);
      allow = nullptr;
    }
    if (!read_routing_keys(routing, backend_list ? backend_list : name_target, action, [this](const toml::node& n, std::string m) { error_at(n, std::move(m)); },
                           [this](const toml::key& k, std::string m) { error_at(k, std::move(m)); },
                           [this](const toml::node& n) { return position_of(n.source()); }))
      return std::nullopt;
    if (action.kind != ActionKind::Forward && (send_proxy || v2_options)) {
      error_at(send_proxy ? *send_proxy : *v2_options, "send_proxy and proxy_v2_options go with FORWARD only");
      return std::nullopt;
    }
    if (send_proxy && !read_send_proxy(*send_proxy, v2_options, action.send_proxy)) return std::nullopt;
    if (!send_proxy && v2_options) {
      error_at(*v2_options, "proxy_v2_options needs send_proxy = \"v2\"");
      return std::nullopt;
    }
    if (action.kind == ActionKind::Forward) {
      if (!to_addr) {
        error_at(node, "FORWARD rule '" + rule + "' needs to_addr = \"host:port\"");
        return std::nullopt;
      }
      if (backend_list || name_target) {  // read by read_routing_keys: action.to is the first or the template
        action.to_addr_at = position_of(to_addr->source());
        if (source && !read_source(*source, action)) return std::nullopt;
        return ok ? std::optional<Action>(action) : std::nullopt;
      }
      auto text = to_addr->value<std::string>();
      std::string why;
      if (text && *text == "STREAM") {
        // A tunnel stream's own destination: never without an allow-list (an open proxy is
        // found and abused within days).
        auto list = allow ? read_destinations(*allow) : std::nullopt;
        if (!list || list->empty()) {
          if (!allow) error_at(*to_addr, "to_addr = \"STREAM\" needs allow = [...]: the names, addresses or CIDR prefixes streams may reach");
          else if (list) error_at(*allow, "allow must list at least one destination");
          return std::nullopt;
        }
        if (source) {
          error_at(*source, "source does not go with to_addr = \"STREAM\": a stream's client is on the far side of "
                            "its tunnel, not an address this host can connect from");
          return std::nullopt;
        }
        action.to_stream = true;
        action.to_addr_at = position_of(to_addr->source());
        action.allow = std::make_shared<const DestinationList>(std::move(*list));
        return ok ? std::optional<Action>(action) : std::nullopt;
      }
      if (allow) {
        error_at(*allow, std::string(kAllowWithoutItsTarget));
        return std::nullopt;
      }
      // "ORIGINAL" alone keeps the original port; "ORIGINAL:PORT" reads like any host:port.
      auto endpoint = !text                 ? std::nullopt
                      : *text == kOriginal ? std::optional<Endpoint>(Endpoint{std::string(kOriginal)})
                                           : parse_endpoint(*text, true, PortRule::NonZero, why);
      if (!text) why = "to_addr must be a string \"host:port\" or a list of them";
      if (text && is_original_in_other_case(*text)) {  // refused even with a port: no host is named so
        endpoint.reset();
        why = "'" + *text + "': the original destination is written ORIGINAL (or ORIGINAL:PORT), in capitals";
      }
      if (!endpoint) {
        error_at(*to_addr, why);
        return std::nullopt;
      }
      action.to = *endpoint;
      action.to_original = endpoint->host == kOriginal;
      action.to_addr_at = position_of(to_addr->source());
      if (source && !read_source(*source, action)) return std::nullopt;
    } else if (source) {
      error_at(*source, "source goes with FORWARD only: it is where the backend connection comes from");
      return std::nullopt;
    } else if (to_addr) {
      error_at(*to_addr, *kind == "UNWRAP"  ? "an UNWRAP rule takes no to_addr: detection goes on after the header"
                         : *kind == "DEMUX" ? "a DEMUX rule takes no to_addr: each stream is routed by the listener's rules"
                         : *kind == "MUX"   ? "a MUX rule takes no to_addr: its tunnel's far end routes the stream"
                                            : "a REJECT rule takes no to_addr");
      return std::nullopt;
    }
    return ok ? std::optional<Action>(action) : std::nullopt;
  }

  /// A FORWARD's source: "client" or "client_port", toward an IP address (or ORIGINAL) only.
  bool read_source(const toml::node& node, Action& action) {
    auto value = node.value<std::string>();
    if (!value || (*value != "client" && *value != "client_port")) {
      error_at(node, "source must be \"client\" (the client's address, a port the kernel picks) or \"client_port\" "
                     "(its address and port)");
      return false;
    }
    const Endpoint* named = action.to.is_literal || action.to_original ? nullptr : &action.to;
    if (action.pool)
      for (const Endpoint& backend : action.pool->backends())
        if (!backend.is_literal && !named) named = &backend;
    if (named) {
      error_at(node, "source needs an IP address or ORIGINAL in to_addr: the host name " + named->host +
                         " may resolve to another family than the client's");
      return false;
    }
    action.source = *value == "client" ? SourceKind::Client : SourceKind::ClientPort;
    action.source_at = position_of(node.source());
    return true;
  }

  /// A list of destinations (allow, bypass); nullopt after an error at `node`.
  std::optional<DestinationList> read_destinations(const toml::node& node) {
    std::vector<std::string> entries;
    const auto* list = node.as_array();
    if (list)
      for (const auto& item : *list)
        if (auto text = item.value<std::string>()) entries.push_back(*text);
    std::string why = "must be a list of addresses, CIDR prefixes, names, .suffix or *.suffix";
    auto parsed = list && entries.size() == list->size() ? DestinationList::parse(entries, why) : std::nullopt;
    if (!parsed) error_at(node, why);
    return parsed;
  }

  fs::path relative_to_config(const std::string& file) const {
    fs::path path(file);
    return path.is_relative() ? (path_.parent_path() / path).lexically_normal() : path;
  }

  /// MUX's keys: tunnel (required), service and name (the stream's fields, else detected).
  bool read_mux_keys(const toml::node& node, const std::vector<std::pair<const toml::key*, const toml::node*>>& keys,
                     Action& action) {
    for (const auto& [key, value] : keys) {
      if (action.kind != ActionKind::Mux) {
        error_at(*key, std::string(key->str()) + " goes with MUX only");
        return false;
      }
      auto text = value->value<std::string>();
      bool field = key->str() != "tunnel";
      if (!text || text->empty() || text->size() > 200 ||
          std::any_of(text->begin(), text->end(), [](char c) { return c == ',' || c < 0x20 || c >= 0x7F; })) {
        error_at(*value, std::string(key->str()) + (field ? " must be printable ASCII without commas (an M-PROXY header field)"
                                                           : " must name a [tunnels.NAME] table"));
        return false;
      }
      (key->str() == "tunnel" ? action.tunnel : key->str() == "service" ? action.mux_service : action.mux_name) = *text;
    }
    if (action.kind == ActionKind::Mux && action.tunnel.empty()) {
      error_at(node, "a MUX rule needs tunnel = \"NAME\", naming a [tunnels.NAME] table");
      return false;
    }
    if (action.kind == ActionKind::Mux) mux_rules_.push_back({action.rule, action.tunnel, position_of(node.source())});
    return true;
  }

  /// Every MUX rule names a tunnel the file defines (the tables may come in any order).
  void check_mux_rules(Config& config) {
    auto granted = [&](const std::string& name) {  // a reverse tunnel some DEMUX rule accepts
      for (const ServerConfig& server : config.servers)
        for (const ProtocolTable& protocol : server.protocols)
          for (const Action& action : protocol.actions)
            if (action.tokens)
              for (const TokenGrant& grant : action.tokens->grants)
                if (grant.tunnel == name) return true;
      return false;
    };
    auto resolve = [&](Action& action) {
      if (action.kind != ActionKind::Mux) return;
      for (std::size_t i = 0; i < config.tunnels.size(); ++i)
        if (config.tunnels[i].name == action.tunnel) {
          action.tunnel_index = static_cast<std::uint32_t>(i);
          return;
        }
      if (granted(action.tunnel)) {
        action.tunnel_index = kReverseTunnel;
        return;
      }
      SourcePosition where{};
      for (const auto& written : mux_rules_)
        if (written.rule == action.rule && written.tunnel == action.tunnel) where = written.where;
      std::string known;
      for (const auto& t : config.tunnels) known += (known.empty() ? "" : ", ") + t.name;
      error(where, "MUX rule '" + action.rule + "' names tunnel '" + action.tunnel + "', which no [tunnels." +
                       action.tunnel + "] table defines and no DEMUX rule's tokens_file grants" +
                       (known.empty() ? "" : "; tunnels: " + known));
    };
    for (ServerConfig& server : config.servers) {
      for (ProtocolTable& protocol : server.protocols)
        for (Action& action : protocol.actions) resolve(action);
      if (server.catchall) resolve(*server.catchall);
    }
    mark_reverse_tunnel_listeners(config);
  }

  /// A reverse tunnel lives in the worker that accepted it: the listeners it arrives on and the
  /// listeners whose connections go into it are served by one worker, the first.
  static void mark_reverse_tunnel_listeners(Config& config) {
    std::vector<std::string> reverse;  // the names MUX rules use as reverse tunnels
    for (const ServerConfig& server : config.servers)
      for (const Action* action : actions_of(server))
        if (action->kind == ActionKind::Mux && action->tunnel_index == kReverseTunnel) reverse.push_back(action->tunnel);
    if (reverse.empty()) return;
    auto carries = [&](const Action& action) {
      if (action.kind == ActionKind::Mux) return action.tunnel_index == kReverseTunnel;
      if (action.kind != ActionKind::Demux || !action.tokens) return false;
      for (const TokenGrant& grant : action.tokens->grants)
        if (std::find(reverse.begin(), reverse.end(), grant.tunnel) != reverse.end()) return true;
      return false;
    };
    for (ServerConfig& server : config.servers) {
      auto actions = actions_of(server);
      server.first_worker_only = std::any_of(actions.begin(), actions.end(), [&](const Action* a) { return carries(*a); });
    }
  }

  /// [tunnels.NAME]: an outgoing M-PROXY tunnel that MUX rules carry connections into.
  void read_tunnels(const toml::node& node, Config& config) {
    const auto* table = node.as_table();
    if (!table) return;
    for (const auto& [key, value] : in_file_order(*table)) {
      TunnelConfig tunnel;
      tunnel.name = std::string(key->str());
      tunnel.where = position_of(key->source());
      tunnel.routes.key = "tunnel " + tunnel.name;
      const auto* options = value->as_table();
      if (!options) {
        error_at(*value, "tunnel '" + tunnel.name + "' must be a table: [tunnels." + tunnel.name + "] connect = \"host:port\"");
        continue;
      }
      if (tunnel.name.empty() || tunnel.name.size() > 64 || !std::all_of(tunnel.name.begin(), tunnel.name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
          })) {
        error_at(*key, "a tunnel's name is 1 to 64 letters, digits, '-', '_' or '.'");
        continue;
      }
      bool has_connect = false;
      bool tunnel_tls = false;
      std::string ca_file;
      for (const auto& [option, setting] : in_file_order(*options)) {
        std::string name(option->str());
        if (setting->is_table()) {  // a protocol routing the streams the far end opens
          if (name == "CATCHALL") read_server_catchall(*option, *setting->as_table(), tunnel.routes);
          else read_protocol(*option, *setting->as_table(), tunnel.routes);
        } else if (name == "connect") {
          std::string why;
          auto text = setting->value<std::string>();
          auto endpoint = text ? parse_endpoint(*text, true, PortRule::NonZero, why) : std::nullopt;
          if (!endpoint) error_at(*setting, "connect must be the \"host:port\" of the far end's DEMUX listener" + (why.empty() ? std::string() : ": " + why));
          else tunnel.connect = *endpoint;
          has_connect = true;
        } else if (name == "tls") {
          if (!setting->is_boolean()) error_at(*setting, "tls must be true or false");
          else tunnel_tls = setting->value_or(false);
        } else if (name == "server_name" || name == "ca_file") {
          auto text = setting->value<std::string>();
          if (!text || text->empty()) error_at(*setting, name + " must be a string");
          else if (name == "server_name") tunnel.server_name = *text;
          else ca_file = relative_to_config(*text).string();
        } else if (name == "bypass") {
          if (auto list = read_destinations(*setting)) tunnel.bypass = std::move(*list);
        } else if (name == "token_file") {
          std::string why;
          auto file = setting->value<std::string>();
          auto token = file ? read_token_file(relative_to_config(*file), why) : std::nullopt;
          if (!token) error_at(*setting, "token_file must name a file holding the tunnel's token" + (why.empty() ? std::string() : ": " + why));
          else tunnel.token = *token;
        } else if (name == "idle_timeout_ms") {
          std::uint32_t ms = 0;
          if (read_option(*option, *setting, ms, 0, kMaxTimeoutMs)) tunnel.idle_timeout_ms = ms;
        } else if (name == "connect_timeout_ms") {
          read_option(*option, *setting, tunnel.connect_timeout_ms, 1, 3'600'000);
        } else if (name == "reconnect_min_ms") {
          read_option(*option, *setting, tunnel.reconnect_min_ms, 1, 3'600'000);
        } else if (name == "reconnect_max_ms") {
          read_option(*option, *setting, tunnel.reconnect_max_ms, 1, 3'600'000);
        } else if (name == "keepalive_ms") {
          read_option(*option, *setting, tunnel.keepalive_ms, 0, 3'600'000);
        } else if (name == "max_streams") {
          read_option(*option, *setting, tunnel.limits.max_streams, 1, 1 << 30);
        } else if (name == "max_message_bytes") {
          read_option(*option, *setting, tunnel.limits.max_message_bytes, 1, 1 << 30);
        } else if (name == "max_stream_buffer") {
          read_option(*option, *setting, tunnel.limits.max_stream_buffer, 1, 1 << 30);
        } else {
          error_at(*option, "unknown tunnel option '" + name +
                                "'; options are connect, tls, server_name, ca_file, token_file, bypass, idle_timeout_ms, connect_timeout_ms, reconnect_min_ms, "
                                "reconnect_max_ms, keepalive_ms, max_streams, max_message_bytes, max_stream_buffer");
        }
      }
      if (!has_connect) error_at(*key, "tunnel '" + tunnel.name + "' needs connect = \"host:port\": the far end's DEMUX listener");
      read_server(toml::table{}, tunnel.routes, true);  // the routes' timeouts: the defaults
      if (tunnel_tls) {
        std::string why;
        tunnel.tls = make_tls_client_context(ca_file, why);
        if (!tunnel.tls) error_at(*key, "tunnel '" + tunnel.name + "': " + why);
        if (tunnel.server_name.empty()) tunnel.server_name = tunnel.connect.host;
      } else if (!ca_file.empty() || !tunnel.server_name.empty()) {
        error_at(*key, "tunnel '" + tunnel.name + "': server_name and ca_file go with tls = true");
      }
      if (tunnel.reconnect_max_ms < tunnel.reconnect_min_ms)
        error_at(*key, "tunnel '" + tunnel.name + "': reconnect_max_ms is less than reconnect_min_ms");
      config.tunnels.push_back(std::move(tunnel));
    }
  }

  bool read_send_proxy(const toml::node& node, const toml::node* options, ProxySend& send) {
    auto version = node.value<std::string>();
    if (!version || (*version != "v1" && *version != "v2")) {
      error_at(node, "send_proxy must be \"v1\" or \"v2\"");
      return false;
    }
    send.version = *version == "v1" ? ProxyVersion::V1 : ProxyVersion::V2;
    if (!options) return true;
    if (send.version != ProxyVersion::V2) {
      error_at(*options, "proxy_v2_options needs send_proxy = \"v2\"");
      return false;
    }
    const auto* list = options->as_array();
    if (!list) {
      error_at(*options, "proxy_v2_options must be a list, e.g. [\"crc32c\", \"unique_id\"]");
      return false;
    }
    for (const auto& item : *list) {
      auto option = item.value<std::string>();
      if (option && *option == "crc32c") {
        send.crc32c = true;
      } else if (option && *option == "unique_id") {
        send.unique_id = true;
      } else {
        error_at(item, "unknown PROXY v2 option: the options are \"crc32c\" and \"unique_id\"");
        return false;
      }
    }
    return true;
  }

  const fs::path& path_;
  PluginRegistry& registry_;
  std::vector<std::string>& errors_;
  std::vector<std::string>* notes_;
  std::optional<GoConfigTranslation> json_;  ///< a JSON config's TOML and its way back to the JSON
  SourcePosition user_at_;   // where `user` and `group` were written, for check_account
  SourcePosition group_at_;
  struct MuxRule {
    std::string rule, tunnel;
    SourcePosition where;
  };
  std::vector<MuxRule> mux_rules_;  ///< where each MUX rule was written
};

}  // namespace

std::vector<const Action*> actions_of(const ServerConfig& server) {
  std::vector<const Action*> actions;
  for (const ProtocolTable& protocol : server.protocols)
    for (const Action& action : protocol.actions) actions.push_back(&action);
  if (server.catchall) actions.push_back(&*server.catchall);
  return actions;
}

namespace {
std::string format_diagnostic(const fs::path& file, SourcePosition where, const char* kind, const std::string& message) {
  std::string out = file.string();
  if (where.line) out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  return out + ": " + kind + ": " + message;
}
}  // namespace

std::string format_error(const fs::path& file, SourcePosition where, const std::string& message) {
  return format_diagnostic(file, where, "error", message);
}

std::string format_note(const fs::path& file, SourcePosition where, const std::string& message) {
  return format_diagnostic(file, where, "note", message);
}

std::optional<Config> load_config(const fs::path& path, PluginRegistry& registry,
                                  std::vector<std::string>& errors, std::vector<std::string>* notes) {
  return Loader(path, registry, errors, notes).load();
}

}  // namespace passthru::core
