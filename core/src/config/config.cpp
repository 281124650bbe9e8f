#include "config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "../plugin_host/plugin_registry.hpp"
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

SourcePosition position_of(const toml::source_region& region) {
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
  Loader(const fs::path& path, PluginRegistry& registry, std::vector<std::string>& errors)
      : path_(path), registry_(registry), errors_(errors) {}

  std::optional<Config> load() {
    std::ifstream probe(path_);
    if (!probe) {
      errors_.push_back(path_.string() + ": error: cannot read the config file: " +
                        std::strerror(errno));
      return std::nullopt;
    }
    toml::table root;
    try {
      root = toml::parse_file(path_.string());
    } catch (const toml::parse_error& e) {
      error(position_of(e.source()), std::string(e.description()));
      return std::nullopt;
    }
    Config config;
    config.path = path_;
    read_top_level(root, config);
    if (!errors_.empty()) return std::nullopt;  // plugins must load before tables are read
    if (const auto* servers = root.get("servers")) read_servers(*servers, config);
    if (config.servers.empty() && errors_.empty())
      error({1, 1}, "no listener: add a table such as [servers.\"127.0.0.1:8443\"]");
    if (!errors_.empty()) return std::nullopt;
    for (const auto& [name, plugin] : registry_.all()) config.plugins.push_back({name, plugin.path.string()});
    return config;
  }

 private:
  void error(SourcePosition where, std::string message) {
    errors_.push_back(format_error(path_, where, message));
  }
  void error_at(const toml::node& node, std::string message) {
    error(position_of(node.source()), std::move(message));
  }
  void error_at(const toml::key& key, std::string message) {
    error(position_of(key.source()), std::move(message));
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
      } else {
        error_at(key, "unknown top-level key '" + std::string(name) +
                          "'; known keys: plugin_dir, log_level, workers, max_connections, drain_timeout_ms, "
                          "log_format, log_file, watch_config, metrics, servers");
      }
    }
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

  void read_server(const toml::table& table, ServerConfig& server) {
    read_server_entries(table, server);
    for (ProtocolTable& protocol : server.protocols)
      for (Action& action : protocol.actions) resolve_timeouts(server.timeout_keys, action);
    if (server.catchall) resolve_timeouts(server.timeout_keys, *server.catchall);
    check_transparent_forwards(server);
  }

  /// What a FORWARD's ORIGINAL and source need of their listener: ORIGINAL a transparent
  /// listener, source a target of the family its clients have; neither goes with a DEMUX rule,
  /// whose streams were not diverted by the kernel and have no address of their own to bind.
  void check_transparent_forwards(const ServerConfig& server) {
    std::vector<const Action*> actions = actions_of(server);
    bool demux = std::any_of(actions.begin(), actions.end(), [](const Action* a) { return a->kind == ActionKind::Demux; });
    for (const Action* action : actions) {
      if (action->kind != ActionKind::Forward) continue;
      if (action->to_original && !server.transparent)
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
        error_at(node, "UNWRAP and DEMUX belong in a protocol table (PROXY, MPROXY); the server CATCHALL can FORWARD or REJECT");
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
    std::vector<std::pair<const toml::key*, const toml::node*>> limits;
    std::vector<std::pair<const toml::key*, const toml::node*>> timeouts;
    RuleEntries routing;  // routing_keys.cpp's: balance, down_ms, from, not_from, reject, status
    bool has_action = false;
    for (const auto& [key, value] : in_file_order(*table)) {
      if (key->str() == "action") {
        has_action = true;
        kind = value->value<std::string>();
        if (!kind || (*kind != "FORWARD" && *kind != "REJECT" && *kind != "UNWRAP" && *kind != "DEMUX")) {
          error_at(*value, "action must be \"FORWARD\", \"REJECT\", \"UNWRAP\" or \"DEMUX\"");
          ok = false;
        }
      } else if (key->str() == "to_addr") {
        to_addr = value;
      } else if (key->str() == "send_proxy") {
        send_proxy = value;
      } else if (key->str() == "proxy_v2_options") {
        v2_options = value;
      } else if (key->str() == "source") {
        source = value;
      } else if (key->str() == "max_streams" || key->str() == "max_message_bytes" || key->str() == "max_stream_buffer") {
        limits.emplace_back(key, value);
      } else if (key->str() == "idle_timeout_ms" || key->str() == "half_closed_timeout_ms" ||
                 key->str() == "max_lifetime_ms") {
        timeouts.emplace_back(key, value);
      } else if (is_routing_key(key->str())) {
        routing.emplace_back(key, value);
      } else {
        error_at(*key, "unknown key '" + std::string(key->str()) + "' in rule '" + rule +
                           "'; a rule takes action, to_addr, source, send_proxy, proxy_v2_options, idle_timeout_ms, "
                           "half_closed_timeout_ms, max_lifetime_ms, balance, down_ms, from, not_from, reject, "
                           "status, allow, and for DEMUX max_streams, max_message_bytes and max_stream_buffer");
        ok = false;
      }
    }
    if (!has_action)
      error_at(node, "rule '" + rule + "' has no action: add action = \"FORWARD\" or \"REJECT\"");
    if (!has_action || !kind || (*kind != "FORWARD" && *kind != "REJECT" && *kind != "UNWRAP" && *kind != "DEMUX"))
      return std::nullopt;
    action.kind = *kind == "FORWARD"  ? ActionKind::Forward
                  : *kind == "REJECT" ? ActionKind::Reject
                  : *kind == "UNWRAP" ? ActionKind::Unwrap
                                      : ActionKind::Demux;
    for (const auto& [key, value] : limits) {
      if (action.kind != ActionKind::Demux) {
        error_at(*key, std::string(key->str()) + " goes with DEMUX only");
        return std::nullopt;
      }
      std::uint32_t& limit = key->str() == "max_streams"         ? action.demux.max_streams
                             : key->str() == "max_message_bytes" ? action.demux.max_message_bytes
                                                                 : action.demux.max_stream_buffer;
      if (!read_option(*key, *value, limit, 1, 1 << 30)) return std::nullopt;
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
    if (!read_routing_keys(routing, backend_list ? backend_list : name_target, action, [this](const toml::node& n, std::string m) { error_at(n, std::move(m)); },
                           [this](const toml::key& k, std::string m) { error_at(k, std::move(m)); }))
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
      // "ORIGINAL" alone keeps the original port; "ORIGINAL:PORT" reads like any host:port.
      auto endpoint = !text                 ? std::nullopt
                      : *text == kOriginal ? std::optional<Endpoint>(Endpoint{std::string(kOriginal)})
                                           : parse_endpoint(*text, true, PortRule::NonZero, why);
      if (!text) why = "to_addr must be a string \"host:port\" or a list of them";
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
};

}  // namespace

std::vector<const Action*> actions_of(const ServerConfig& server) {
  std::vector<const Action*> actions;
  for (const ProtocolTable& protocol : server.protocols)
    for (const Action& action : protocol.actions) actions.push_back(&action);
  if (server.catchall) actions.push_back(&*server.catchall);
  return actions;
}

std::string format_error(const fs::path& file, SourcePosition where, const std::string& message) {
  std::string out = file.string();
  if (where.line) out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  return out + ": error: " + message;
}

std::optional<Config> load_config(const fs::path& path, PluginRegistry& registry,
                                  std::vector<std::string>& errors) {
  return Loader(path, registry, errors).load();
}

}  // namespace passthru::core
