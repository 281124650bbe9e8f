// Config: the passthru tree as the server uses it, read from TOML (or a passthru (Go) JSON
// config) by load_config.
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

#include "destination_list.hpp"
#include "endpoint.hpp"
#include "tls_context.hpp"
#include "tunnel_tokens.hpp"
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
/// connection is an M-PROXY tunnel, each stream of which is routed on its own; MUX: the
/// connection is carried as one stream of an outgoing M-PROXY tunnel ([tunnels.NAME]).
enum class ActionKind : std::uint8_t { Forward, Reject, Unwrap, Demux, Mux };

/// The bounds of one M-PROXY tunnel (a DEMUX rule's options).
struct DemuxLimits {
  std::uint32_t max_streams = 1024;                ///< streams open at once
  std::uint32_t max_message_bytes = 1024 * 1024;   ///< one message's body
  std::uint32_t max_stream_buffer = 1024 * 1024;   ///< bytes queued to one stream's backend
  /// TCP keepalive on an accepted tunnel's connection, as a dialled link's (keepalive_ms): a
  /// far end that vanished is found, and its tunnel (a reverse tunnel's registration) goes; 0: off.
  std::uint32_t keepalive_ms = 30'000;
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
  std::string tunnel;        ///< Mux only: the name of the [tunnels.NAME] that carries it
  std::uint32_t tunnel_index = 0;  ///< Mux only: its place in Config::tunnels, or kReverseTunnel
  std::string mux_service;   ///< Mux only: the stream's `service`; empty: the detected protocol
  std::string mux_name;      ///< Mux only: the stream's `name`; empty: the SNI or Host
  /// Demux only (tokens_file): a tunnel must present one of these in its first control
  /// message, within the listener's timeout_ms; none: any tunnel is accepted.
  std::shared_ptr<const TunnelTokens> tokens;
  /// Demux only (tls_cert, tls_key): the tunnel's link is TLS, decrypted with this; the rule
  /// then sits in a TLS table (its SNI), and its streams are routed as an MPROXY table's.
  TlsContext tls;
  /// Forward only (to_addr = "STREAM"): a tunnel stream's own name:serviceport, if `allow` lists the name.
  bool to_stream = false;
  std::shared_ptr<const DestinationList> allow;
  std::shared_ptr<BackendPool> pool;  ///< Forward with a to_addr list: its backends (`to` is the first)
  ClientCondition client;             ///< from / not_from: the clients the rule applies to
  RejectStyle reject = RejectStyle::Close;  ///< Reject only
  std::uint16_t status = 421;               ///< Reject with reject = "http": the response's status
  passthru::sdk::SourcePosition reject_at;
  NameSource name_target = NameSource::None;  ///< Forward: to_addr = "{sni}:PORT" or "{host}:PORT" (to.port)
  std::shared_ptr<const NameAllow> name_allow;  ///< with a name target: its allow list, if it has one
  passthru::sdk::SourcePosition where;        ///< the rule key's position, for `passthru explain`
};

/// A MUX rule's tunnel that no [tunnels.NAME] dials: one a DEMUX rule's tokens grant, which the
/// far end dials in (a reverse tunnel).
inline constexpr std::uint32_t kReverseTunnel = 0xFFFFFFFF;

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
  /// It carries reverse tunnels: a DEMUX rule of it grants one that a MUX rule uses, or a MUX
  /// rule of it sends connections into one. Only the first worker listens on it, so that a
  /// tunnel registers in the loop that takes the connections routed into it.
  bool first_worker_only = false;
};

/// An outgoing M-PROXY tunnel ([tunnels.NAME]): where it dials, and how it keeps the link.
/// MUX rules name it; each worker keeps its own link (server/tunnel_link.hpp).
struct TunnelConfig {
  std::string name;
  passthru::sdk::SourcePosition where;
  Endpoint connect;  ///< the far end, a DEMUX listener
  /// No stream open for this long closes the link (0: as soon as the last stream ends); none:
  /// the link stays open, and is dialled again whenever it is lost.
  std::optional<std::uint32_t> idle_timeout_ms;
  std::uint32_t connect_timeout_ms = 5000;  ///< per attempt; and how long a new stream waits for the link
  std::uint32_t reconnect_min_ms = 250;     ///< the first pause before dialling again
  std::uint32_t reconnect_max_ms = 30'000;  ///< the longest, however many attempts failed
  /// TCP keepalive on the link: probed after this long without a byte, and lost once nothing
  /// has come back for twice as long; 0: off. Probes go in whole seconds, rounded up.
  std::uint32_t keepalive_ms = 30'000;
  DemuxLimits limits;                       ///< max_streams, max_message_bytes, max_stream_buffer
  std::string token;  ///< from token_file: sent in the first control message; empty: none
  TlsContext tls;     ///< tls = true: the link is TLS, verified with ca_file (or the system store)
  std::string server_name;  ///< the name sent (SNI) and verified; default: connect's host
  DestinationList bypass;   ///< MUX connections for these destinations connect directly
  /// Routes for the streams the far end opens (a reverse tunnel: [tunnels.NAME.TLS]…); with
  /// any, the link is dialled at start and kept up. Without, each such stream is refused.
  ServerConfig routes;
};

struct Config {
  std::filesystem::path path;
  std::string log_level = "info";
  unsigned workers = 0;  ///< 0: one per CPU core
  std::uint32_t max_connections = 0;  ///< live at once in the whole process; 0: no limit
  std::string user;   ///< after binding as root, become this user (server/privileges.hpp); empty: stay
  std::string group;  ///< with `user`: this group instead of the user's own
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
  std::vector<TunnelConfig> tunnels;  ///< [tunnels.NAME], in file order
};

/// Every rule's action in `server`: its protocols' in file order, then its CATCHALL's.
std::vector<const Action*> actions_of(const ServerConfig& server);

/// One error as `file:line:column: error: message` (line and column left out when unknown).
std::string format_error(const std::filesystem::path& file, passthru::sdk::SourcePosition where,
                         const std::string& message);

/// A note as `file:line:column: note: message`: where passthru's own rule decides.
std::string format_note(const std::filesystem::path& file, passthru::sdk::SourcePosition where,
                        const std::string& message);

/// Reads `path`, loads the plugins it needs into `registry` (the built-in folders and its
/// plugin_dir), and configures every protocol. On any error returns nullopt and fills
/// `errors` with every message found, each already formatted by format_error. A file named
/// *.json is a passthru (Go) config (go_config.hpp), read as the TOML it stands for, with its
/// positions told as the JSON's; its notes, formatted by format_note, go to `notes` if given.
std::optional<Config> load_config(const std::filesystem::path& path, PluginRegistry& registry,
                                  std::vector<std::string>& errors, std::vector<std::string>* notes = nullptr);

}  // namespace passthru::core
