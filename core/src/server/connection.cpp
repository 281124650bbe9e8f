#include "connection.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <new>
#include <random>
#include <string>
#include <utility>

#include "reject.hpp"
#include "transparent.hpp"
#include "worker.hpp"

namespace passthru::core {

Connection::Connection(Worker& worker, std::shared_ptr<ListenerRules> rules)
    : worker_(worker),
      rules_(std::move(rules)),
      server_(rules_->server),
      lifeline_(*this, worker.releases()),
      deadline_(worker.deadlines()),
      sniffer_(*this, server_, rules_->sniff_pool, deadline_),
      connector_(*this, worker.loop(), worker.event_set(), deadline_, lifeline_),
      forwarder_(*this, worker.pipe_pool(), worker.relay_pool(), deadline_) {}

void Connection::start(Worker& worker, Listener& listener, int fd, const IpAddress& peer) {
  auto* self = new (worker.connection_memory().take()) Connection(worker, listener.rules);
  worker.add(self);
  self->rules_->metrics.counters.accepted.add();
  self->peer_ = self->counted_ = peer;
  self->record_.client = self->peer_;
  self->record_.listener = &self->rules_->name;
  if (self->server_.transparent) self->record_.destination = local_address(fd);  // TPROXY's original destination
  self->sniffer_.start(Socket(worker.event_set(), fd), self->peer_.get());
}

void Connection::on_decided(Decision decision) {
  record_.decision = std::move(decision);  // kept for the log line: its facts are not copied
  rules_->metrics.decided(record_.decision, seconds_since(record_.started));
  const Unwrapped& unwrapped = sniffer_.unwrapped();
  record_.unwrapped = &unwrapped.facts;
  if (unwrapped.adopted.present) {
    record_.client = IpAddress::from(unwrapped.adopted.source);
    record_.via = peer_;
    local_ = IpAddress::from(unwrapped.adopted.destination);
    // The client is who the header says: it counts against max_connections_per_source now.
    if (!worker_.limits().move_source(*rules_->counts, counted_, record_.client)) {
      end(CloseReason::SourceLimit, 0);
      return;
    }
    counted_ = record_.client;
  }
  apply(record_.decision);
}

void Connection::apply(const Decision& decision) {
  const Unwrapped& unwrapped = sniffer_.unwrapped();
  if (!decision.action) {
    end(CloseReason::NoRoute, 0);
    return;
  }
  if (decision.kind == Decision::Kind::ServerCatchall && !decision.action->client.admits(record_.client.get())) {
    end(CloseReason::NoRoute, 0);  // the listener's CATCHALL has from / not_from, and this client is not in them
    return;
  }
  switch (decision.action->kind) {
    case ActionKind::Reject:
      if (decision.action->reject != RejectStyle::Close) {  // refuse() takes the client and closes it
        ConnBuf sniffed = sniffer_.take_bytes();
        passthru::sdk::ByteSpan bytes = sniffed.bytes();
        refused_bytes_ = refuse(sniffer_.take_client(), *decision.action,
                                bytes.subspan(std::min<std::size_t>(unwrapped.offset, bytes.size())), decision.facts);
      }
      end(CloseReason::Rejected, 0);
      return;
    case ActionKind::Unwrap:  // Detection goes on after an UNWRAP; it never ends detection
      end(CloseReason::Rejected, 0);
      return;
    case ActionKind::Demux: {
      if (sniffer_.client_finished()) {  // a tunnel that ended before it began
        end(CloseReason::Done, 0);
        return;
      }
      stage_ = Stage::Tunneling;
      auto index = static_cast<std::uint32_t>(decision.protocol - server_.protocols.data());
      if (decision.action->tls) {  // a TLS table's rule: its streams are routed as the MPROXY table's
        index = Tunnel::kNoMproxyTable;
        for (std::size_t i = 0; i < server_.protocols.size(); ++i)
          if (server_.protocols[i].name == "MPROXY") index = static_cast<std::uint32_t>(i);
      }
      Tunnel::Owner& owner = *this;
      tunnel_ = std::make_unique<Tunnel>(owner, worker_, *rules_, *decision.action, index, record_.client, lifeline_);
      rules_->metrics.counters.tunnels_opened.add();
      ConnBuf sniffed = sniffer_.take_bytes();
      if (decision.action->tokens) deadline_.start(server_.timeout_ms, static_cast<Deadline::Expiry&>(*this));
      if (decision.action->tls) {
        start_tls_tunnel(sniffed.bytes().subspan(unwrapped.offset));
        return;
      }
      tunnel_->start(take_tunnel_link(), sniffed.bytes().subspan(unwrapped.offset));
      return;
    }
    case ActionKind::Mux:
      start_mux();
      return;
    case ActionKind::Forward:
      if (decision.action->to_stream) {  // a stream's own destination: a plain connection names none
        end(CloseReason::NoRoute, 0);
        return;
      }
      stage_ = Stage::Connecting;
      connecting_since_ = std::chrono::steady_clock::now();
      connector_.sends_first(backend_gets_bytes_first());
      connect_backend(*decision.action);
      return;
  }
}

void Connection::connect_backend(const Action& action) {
  if (action.pool) {
    if (!connect_next_backend(action)) end(CloseReason::ConnectFailed, -ECONNREFUSED);
    return;
  }
  if (action.name_target != NameSource::None) {
    connect_by_name(action);
    return;
  }
  ConnectFrom from = connect_from(action);
  if (!action.to_original) {
    connector_.connect(action.to, server_.connect_timeout_ms, from);
    return;
  }
  record_.target = record_.destination;
  if (action.to.port != 0) {  // ORIGINAL:PORT
    if (record_.target.any.sa_family == AF_INET) record_.target.v4.sin_port = htons(action.to.port);
    else record_.target.v6.sin6_port = htons(action.to.port);
  }
  if (reaches_own_listener(record_.target, server_.listen, listener_port(), uv_now(worker_.loop()))) {
    end(CloseReason::Loop, 0);
    return;
  }
  connector_.connect(record_.target.get(), server_.connect_timeout_ms, from);
}

std::uint16_t Connection::listener_port() const noexcept {
  const std::string& name = rules_->name;  // "ADDRESS:PORT", as bound
  std::uint16_t port = 0;
  std::from_chars(name.data() + name.rfind(':') + 1, name.data() + name.size(), port);
  return port;
}

Socket Connection::take_tunnel_link() {
  Socket link = sniffer_.take_client();
  // A tunnel outlives what carries it: a NAT that forgets it, a far end switched off. Probes
  // find it dead, and a reverse tunnel's registration goes with it.
  if (int status = link.keep_alive(record_.decision.action->demux.keepalive_ms); status < 0)
    spdlog::warn("listener={} tunnel: cannot set TCP keepalive: {}", rules_->name, uv_strerror(status));
  return link;
}

ConnectFrom Connection::connect_from(const Action& action) const noexcept {
  if (action.source == SourceKind::Own) return {};
  return {record_.client.get(), action.source == SourceKind::ClientPort};
}

bool Connection::connect_next_backend(const Action& action) {
  BackendPool& pool = *action.pool;
  std::uint8_t next = pool.pick(record_.client.get(), uv_now(worker_.loop()), backends_tried_);
  if (next == BackendPool::kNone) return false;
  backends_tried_ = static_cast<std::uint16_t>(backends_tried_ | 1u << next);
  backend_ = next;
  record_.backend = &pool.backends()[next];
  connector_.connect(*record_.backend, server_.connect_timeout_ms, connect_from(action));
  return true;
}

void Connection::connect_by_name(const Action& action) {
  using namespace passthru::sdk::fact_key;
  auto host = target_host(record_.decision.facts.find(action.name_target == NameSource::Sni ? kSni : kHost),
                          action.name_allow.get());
  std::string why;
  auto target = host ? parse_endpoint(*host + ":" + std::to_string(action.to.port), true, PortRule::NonZero, why)
                     : std::nullopt;
  if (!target) {  // no usable name, or one the allow list leaves out
    end(CloseReason::ConnectFailed, -EACCES);
    return;
  }
  named_target_ = std::make_unique<Endpoint>(std::move(*target));
  record_.backend = named_target_.get();
  if (action.name_allow && !action.name_allow->addresses.empty()) connector_.only_to(*action.name_allow);
  connector_.connect(*named_target_, server_.connect_timeout_ms);
}

void Connection::on_sniff_failed(CloseReason why, int error) { end(why, error); }

void Connection::on_connected(Socket backend) {
  stage_ = Stage::Forwarding;
  if (const Action* action = record_.decision.action; action->pool) {
    action->pool->connected(backend_);
    holds_backend_ = true;
    rules_->metrics.backend_connected(action, backend_);
  }
  rules_->metrics.counters.backend_connect.observe(seconds_since(connecting_since_));
  Socket client = sniffer_.take_client();
  std::string header = proxy_header(client);
  forwarder_.start(std::move(client), std::move(backend), std::move(header), sniffer_.take_bytes(),
                   sniffer_.unwrapped().offset, sniffer_.client_finished(), record_.decision.action->timeouts);
}

void Connection::on_connect_failed(CloseReason why, int error) {
  // A to_addr list: this backend is down for a while, and the next one gets this client.
  const Action* action = record_.decision.action;
  bool backend_failed = why == CloseReason::ConnectFailed || why == CloseReason::ConnectTimeout ||
                        why == CloseReason::ResolveFailed;
  if (action && action->pool && backend_ != BackendPool::kNone && backend_failed) {
    action->pool->mark_down(backend_, uv_now(worker_.loop()));
    rules_->metrics.backend_failed(action, backend_);
    if (!connector_.resolving() && connect_next_backend(*action)) return;
  }
  end(why, error);
}

void Connection::on_forwarded(CloseReason why, int error) { end(why, error); }

void Connection::on_tunnel_finished(CloseReason why, int error) { end(why, error); }

bool Connection::backend_gets_bytes_first() const noexcept {
  return record_.decision.action->send_proxy.version != ProxyVersion::None ||
         sniffer_.bytes_read() > sniffer_.unwrapped().offset;
}

std::string Connection::proxy_header(const Socket& client) const {
  const ProxySend& send = record_.decision.action->send_proxy;
  if (send.version == ProxyVersion::None) return {};
  passthru::wire::ProxyTlvs tlvs;
  tlvs.authority = record_.decision.facts.authority();
  tlvs.alpn = record_.decision.facts.alpn_first();
  char unique_id[32];
  if (send.unique_id) {
    thread_local std::mt19937_64 random{std::random_device{}()};
    static constexpr char kDigits[] = "0123456789abcdef";
    for (char& c : unique_id) c = kDigits[random() & 0x0F];
    tlvs.unique_id = {unique_id, sizeof unique_id};
  }
  IpAddress local = local_;  // a trusted header's, else the original destination (transparent)
  if (local.any.sa_family == AF_UNSPEC) local = record_.destination;
  if (local.any.sa_family == AF_UNSPEC) local = local_address(client.fd());  // the address we were reached at
  return passthru::wire::write_proxy_header(send, record_.client.get(), local.get(), tlvs);
}

void Connection::end(CloseReason why, int error) {
  if (stage_ == Stage::Ending) return;
  Stage was = stage_;
  stage_ = Stage::Ending;
  record_.end = why;
  record_.error = error;
  switch (was) {
    case Stage::Sniffing:
      sniffer_.close();
      break;
    case Stage::Connecting:
      connector_.cancel();
      sniffer_.close();
      break;
    case Stage::Forwarding:
      forwarder_.stop(why);  // closes both sockets, if it had not already
      break;
    case Stage::Tunneling:
      tunnel_->close(why);
      if (tls_) tls_->close();
      break;
    case Stage::MuxWaiting:
      if (link_) link_->cancel(*this);  // none for a reverse tunnel: it is there, or it is not
      sniffer_.close();
      break;
    case Stage::Muxing:
      if (TunnelStream* stream = std::exchange(mux_, nullptr)) stream->close(why, true);
      break;
    case Stage::Ending:
      break;
  }
  deadline_.close();
  lifeline_.let_go();
}

void Connection::on_released() {
  // Nothing of this connection is open any more, and this runs at the end of a turn of the
  // loop, outside every stage's own call: it may go.
  if (tunnel_) {
    record_.streams = tunnel_->streams_opened();
    record_.bytes_up = tunnel_->bytes_in();
    record_.bytes_down = tunnel_->bytes_out();
    record_.protocol_error = tunnel_->protocol_error();
    rules_->metrics.counters.tunnels_closed.add();
  } else if (!muxed_) {
    record_.bytes_up = forwarder_.bytes_up();
    record_.bytes_down = forwarder_.bytes_down() + refused_bytes_;
  }
  if (holds_backend_) record_.decision.action->pool->released(backend_);
  worker_.access_log().write(record_);
  rules_->metrics.connection_ended(record_);
  worker_.limits().release(*rules_->counts, counted_);
  Worker& worker = worker_;
  worker.remove(this);
  this->~Connection();  // the last connection on retired rules lets go of their config, and its plugins
  worker.connection_memory().give(reinterpret_cast<char*>(this));
}

}  // namespace passthru::core
