// Connection: one accepted client, from accept to the last close. It owns the stages a
// connection passes through, each of which owns the sockets it holds while it runs:
//   Sniffer    the client's socket and first bytes, until Detection decides;
//   Connector  the backend's socket, until it is connected (FORWARD);
//   Forwarder  both sockets, from the first byte sent to the backend until both are closed;
//   Tunnel     the client's socket and every stream inside it (DEMUX);
//   MUX        waiting for its worker's TunnelLink (the Sniffer keeps the client's socket), then
//              a local TunnelStream of the link's tunnel owns it, and tells this connection its end.
// The Connection hands sockets from one stage to the next, fills the access-log record along
// the way, and deletes itself once its Lifeline says nothing it started is still out.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>

#include "access_log.hpp"
#include "connector.hpp"
#include "deadline.hpp"
#include "forwarder.hpp"
#include "lifeline.hpp"
#include "sniffer.hpp"
#include "tunnel.hpp"
#include "tunnel_link.hpp"
#include "tunnel_stream.hpp"
#include "tls_bridge.hpp"

namespace passthru::core {

class Worker;
struct Listener;
struct ListenerRules;

class Connection final : private Lifeline::Owner, private Sniffer::Owner, private Connector::Owner,
                         private Forwarder::Owner, private Tunnel::Owner, private TunnelLink::Client,
                         private TunnelStream::LocalOwner, private Deadline::Expiry {
 public:
  /// Starts a connection on `fd`, just accepted on `listener` from `peer` and counted against
  /// the limits by that address.
  static void start(Worker& worker, Listener& listener, int fd, const IpAddress& peer);

  /// Ends the connection now (passthru is stopping, or its listener was removed and drained).
  void shutdown() { end(CloseReason::Shutdown, 0); }
  /// The rules it was accepted with.
  const ListenerRules& rules() const noexcept { return *rules_; }

  Connection* next = nullptr;  ///< the worker's list of live connections
  Connection* previous = nullptr;

 private:
  enum class Stage : std::uint8_t { Sniffing, Connecting, Forwarding, Tunneling, MuxWaiting, Muxing, Ending };

  Connection(Worker& worker, std::shared_ptr<ListenerRules> rules);
  ~Connection() = default;

  void on_decided(Decision decision) override;
  /// Carries out `decision` (the one on record): the client's socket and first bytes are still
  /// the Sniffer's.
  void apply(const Decision& decision);
  void on_sniff_failed(CloseReason why, int error) override;
  void on_connected(Socket backend) override;
  void on_connect_failed(CloseReason why, int error) override;
  void on_forwarded(CloseReason why, int error) override;
  void on_tunnel_finished(CloseReason why, int error) override;
  void on_released() override;
  // MUX (connection_mux.cpp).
  void start_mux();
  /// DEMUX with tls_cert: the tunnel's link is decrypted by a TlsBridge, whose plain end the
  /// Tunnel reads (connection_mux.cpp).
  void start_tls_tunnel(passthru::sdk::ByteSpan hello);
  /// A MUX rule's reverse tunnel is not up: the server CATCHALL applies (fallback=no_tunnel).
  void fall_back_for_no_tunnel();
  void on_link_ready(Tunnel& tunnel) override;
  void on_stream_finished(CloseReason why, int error, std::uint64_t up, std::uint64_t down) override;
  void on_deadline() override;  ///< MUX: waited connect_timeout_ms for the link; DEMUX: for the token

  /// DEMUX: the client's socket, handed to the tunnel, with the rule's TCP keepalive on it.
  Socket take_tunnel_link();
  /// FORWARD: connects to the rule's target, or the original destination, from the client's
  /// address if the rule's source says so.
  void connect_backend(const Action& action);
  /// A to_addr list: connects to the backend its balance picks among those not yet tried by
  /// this connection. False when every one has been tried.
  bool connect_next_backend(const Action& action);
  /// The port its listener is bound to (the one it got, when the config said 0).
  std::uint16_t listener_port() const noexcept;
  /// Where the backend connection comes from, as the rule's `source` says.
  ConnectFrom connect_from(const Action& action) const noexcept;
  /// to_addr = "{sni}:PORT" / "{host}:PORT": connects to the name the client sent, within the
  /// rule's allow list.
  void connect_by_name(const Action& action);
  /// Whether the backend gets bytes as soon as it is connected: a PROXY header, or what the
  /// client sent (after any header an UNWRAP rule strips).
  bool backend_gets_bytes_first() const noexcept;
  /// The PROXY header the rule asks for (empty if none); `client` is asked for our own address.
  std::string proxy_header(const Socket& client) const;
  /// Records why it ended, closes whatever the current stage holds, and lets go.
  void end(CloseReason why, int error);

  Worker& worker_;
  std::shared_ptr<ListenerRules> rules_;  ///< its listener's when it was accepted, held to the end
  const ServerConfig& server_;  ///< within rules_
  Stage stage_ = Stage::Sniffing;
  std::uint8_t backend_ = BackendPool::kNone;  ///< a to_addr list: the backend being tried, or held
  bool holds_backend_ = false;                 ///< counted in its pool's connections (least_conn)
  std::uint16_t backends_tried_ = 0;           ///< a to_addr list: a bit per backend tried
  IpAddress peer_;   ///< the TCP peer: who sent the bytes (FROM rules match it)
  IpAddress local_;  ///< the original destination a trusted header gave, if one did
  IpAddress counted_;  ///< the source ConnectionLimits counts it by: the peer, or the address it adopted
  std::chrono::steady_clock::time_point connecting_since_;  ///< for the backend connect time
  AccessRecord record_;
  Lifeline lifeline_;
  Deadline deadline_;
  Sniffer sniffer_;
  Connector connector_;
  Forwarder forwarder_;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<TlsBridge> tls_;  ///< DEMUX with tls_cert: decrypts the tunnel's link
  TunnelLink* link_ = nullptr;     ///< MUX: the link it waits for, or is carried by
  TunnelStream* mux_ = nullptr;    ///< MUX: its stream, until the stream says it ended
  std::size_t refused_bytes_ = 0;  ///< REJECT with an answer: the alert or response the client was sent
  bool muxed_ = false;             ///< MUX: the bytes are the stream's, recorded when it ended
  Endpoint bypass_to_;             ///< MUX to a destination its tunnel's bypass lists: connected directly
  std::unique_ptr<Endpoint> named_target_;  ///< a name-built to_addr: the client's name and the rule's port
};

}  // namespace passthru::core
