// Connection: one accepted client, from accept to the last close. It owns the stages a
// connection passes through, each of which owns the sockets it holds while it runs:
//   Sniffer    the client's socket and first bytes, until Detection decides;
//   Connector  the backend's socket, until it is connected (FORWARD);
//   Forwarder  both sockets, from the first byte sent to the backend until both are closed;
//   Tunnel     the client's socket and every stream inside it (DEMUX).
// The Connection hands sockets from one stage to the next, fills the access-log record along
// the way, and deletes itself once its Lifeline says every handle has closed.
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

namespace passthru::core {

class Worker;
struct Listener;
struct ListenerRules;

class Connection final : private Lifeline::Owner, private Sniffer::Owner, private Connector::Owner,
                         private Forwarder::Owner, private Tunnel::Owner {
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
  enum class Stage : std::uint8_t { Sniffing, Connecting, Forwarding, Tunneling, Ending };

  Connection(Worker& worker, std::shared_ptr<ListenerRules> rules);
  ~Connection() = default;

  void on_decided(const Decision& decision) override;
  void on_sniff_failed(CloseReason why, int error) override;
  void on_connected(Socket backend) override;
  void on_connect_failed(CloseReason why, int error) override;
  void on_forwarded(CloseReason why, int error) override;
  void on_tunnel_finished(CloseReason why, int error) override;
  void on_released() override;

  /// FORWARD: connects to the rule's target, or the original destination, from the client's
  /// address if the rule's source says so.
  void connect_backend(const Action& action);
  /// A to_addr list: connects to the backend its balance picks among those not yet tried by
  /// this connection. False when every one has been tried.
  bool connect_next_backend(const Action& action);
  /// to_addr = "{sni}:PORT" / "{host}:PORT": connects to the name the client sent, within the
  /// rule's allow list.
  void connect_by_name(const Action& action);
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
  Lifeline lifeline_{*this};
  Deadline deadline_;
  Sniffer sniffer_;
  Connector connector_;
  Forwarder forwarder_;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<Endpoint> named_target_;  ///< a name-built to_addr: the client's name and the rule's port
};

}  // namespace passthru::core
