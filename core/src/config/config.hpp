// Config: the passthru tree as the server uses it, read from TOML by load_config.
// A server (listener) holds its protocols in file order, each configured plugin instance
// with the action of every rule, and an optional server CATCHALL. Nothing here does I/O on
// connections.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "endpoint.hpp"
#include "name_target.hpp"
#include "backend_pool.hpp"
#include "client_condition.hpp"
#include "passthru/sdk/protocol.hpp"
#include "passthru/wire/proxy_header_writer.hpp"

namespace passthru::core {

class PluginRegistry;

// What a FORWARD rule's send_proxy asks the PROXY header writer for, in its own words.
using passthru::wire::ProxySend;
using passthru::wire::ProxyVersion;

/// FORWARD to a backend; REJECT (close); UNWRAP: strip the header the protocol found (the
/// PROXY protocol's), adopt the addresses it carries, and go on detecting after it; DEMUX: the
/// connection is an M-PROXY tunnel, each stream of which is routed on its own.
enum class ActionKind : std::uint8_t { Forward, Reject, Unwrap, Demux };

/// The bounds of one M-PROXY tunnel (a DEMUX rule's options).
struct DemuxLimits {
  std::uint32_t max_streams = 1024;                ///< streams open at once
  std::uint32_t max_message_bytes = 1024 * 1024;   ///< one message's body
  std::uint32_t max_stream_buffer = 1024 * 1024;   ///< bytes queued to one stream's backend
};

/// How long a relayed connection (or tunnel stream) may stay open, each in milliseconds with 0
/// meaning no limit: with no byte in either direction (idle), after one side sent its FIN
/// (half-closed), and in all (lifetime).
struct RelayTimeouts {
  std::uint32_t idle_ms = 3'600'000;
  std::uint32_t half_closed_ms = 3'600'000;
  std::uint32_t max_lifetime_ms = 0;
};

/// The timeout keys as one table wrote them (a listener, or a FORWARD rule overriding it).
struct TimeoutKeys {
  std::optional<std::uint32_t> idle_ms;
  std::optional<std::uint32_t> half_closed_ms;
  std::optional<std::uint32_t> max_lifetime_ms;
};

/// Where a FORWARD's backend connection comes from: passthru's own address (the kernel's
/// choice), or the client's, so that the backend sees the client (transparent mode): with a
/// port the kernel picks (source = "client") or with the client's own port ("client_port").
enum class SourceKind : std::uint8_t { Own, Client, ClientPort };

/// How a REJECT ends the connection: a FIN (close), a RST (reset), a TLS alert record then a
/// FIN (tls_alert, TLS tables only), or an HTTP/1.1 response then a FIN (http, HTTP tables only).
enum class RejectStyle : std::uint8_t { Close, Reset, TlsAlert, Http };

struct Action {
  ActionKind kind = ActionKind::Reject;
  Endpoint to;       ///< Forward only; for ORIGINAL, host "ORIGINAL" and the port to use (0: the same)
  bool to_original = false;  ///< Forward only: to_addr = "ORIGINAL[:PORT]", the connection's original destination
  SourceKind source = SourceKind::Own;  ///< Forward only
  passthru::sdk::SourcePosition to_addr_at;  ///< where to_addr and source are written, for the
  passthru::sdk::SourcePosition source_at;   ///< checks that need the whole listener
  std::string rule;  ///< the rule key, for logs ("SNI example.com", "CATCHALL")
  ProxySend send_proxy;  ///< Forward only: a PROXY header to write before the stream
  DemuxLimits demux;     ///< Demux only
  TimeoutKeys timeout_keys;  ///< Forward only: what the rule itself wrote
  RelayTimeouts timeouts;    ///< Forward only: what applies, the rule's keys over its listener's
  std::shared_ptr<BackendPool> pool;  ///< Forward with a to_addr list: its backends (`to` is the first)
  ClientCondition client;             ///< from / not_from: the clients the rule applies to
  RejectStyle reject = RejectStyle::Close;  ///< Reject only
  std::uint16_t status = 421;               ///< Reject with reject = "http": the response's status
  passthru::sdk::SourcePosition reject_at;
  NameSource name_target = NameSource::None;  ///< Forward: to_addr = "{sni}:PORT" or "{host}:PORT" (to.port)
  std::shared_ptr<const NameAllow> allow;     ///< with a name target: its allow list, if it has one
  passthru::sdk::SourcePosition where;        ///< the rule key's position, for `passthru explain`
};

struct ProtocolTable {
  std::string name;  ///< "TLS"
  std::shared_ptr<passthru::sdk::Protocol> protocol;
  std::vector<Action> actions;  ///< indexed by the rule index a Match names
};

/// The most protocol tables one listener may have.
inline constexpr std::size_t kMaxProtocolsPerServer = 64;

struct ServerConfig {
  std::string key;  ///< as written: "0.0.0.0:443"
  passthru::sdk::SourcePosition where;
  Endpoint listen;
  std::uint32_t timeout_ms = 5000;
  std::uint32_t max_sniff_bytes = 16384;
  std::uint32_t connect_timeout_ms = 5000;
  bool transparent = false;  ///< IP_TRANSPARENT: takes connections TPROXY diverted to it, for any address
  TimeoutKeys timeout_keys;  ///< the listener's defaults for its FORWARD rules
  std::uint32_t max_connections = 0;             ///< live at once on this listener; 0: no limit
  std::uint32_t max_connections_per_source = 0;  ///< live at once from one client address; 0: no limit
  std::vector<ProtocolTable> protocols;  ///< in the order the file lists them
  std::optional<Action> catchall;
};

struct Config {
  std::filesystem::path path;
  std::string log_level = "info";
  unsigned workers = 0;  ///< 0: one per CPU core
  std::uint32_t max_connections = 0;  ///< live at once in the whole process; 0: no limit
  std::uint32_t drain_timeout_ms = 30'000;  ///< on SIGTERM/SIGINT, how long live connections may finish
  bool watch_config = false;  ///< reload when the file changes, as on SIGHUP
  bool log_json = false;  ///< log_format = "json": every log line a JSON object
  std::filesystem::path log_file;  ///< where every log line goes; empty: stderr
  passthru::sdk::SourcePosition log_file_where;
  std::optional<Endpoint> metrics_listen;  ///< [metrics] listen: where /metrics is served; none: off
  passthru::sdk::SourcePosition metrics_where;
  struct Plugin {
    std::string protocol;  ///< "TLS"
    std::string path;
  };
  std::vector<Plugin> plugins;  ///< every plugin loaded for this config
  std::vector<ServerConfig> servers;
};

/// Every rule's action in `server`: its protocols' in file order, then its CATCHALL's.
std::vector<const Action*> actions_of(const ServerConfig& server);

/// One error as `file:line:column: error: message` (line and column left out when unknown).
std::string format_error(const std::filesystem::path& file, passthru::sdk::SourcePosition where,
                         const std::string& message);

/// Reads `path`, loads the plugins it needs into `registry` (the built-in folders and its
/// plugin_dir), and configures every protocol. On any error returns nullopt and fills
/// `errors` with every message found, each already formatted by format_error.
std::optional<Config> load_config(const std::filesystem::path& path, PluginRegistry& registry,
                                  std::vector<std::string>& errors);

}  // namespace passthru::core
