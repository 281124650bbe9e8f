// Connection's MUX stage: the connection waits for its worker's TunnelLink, then is handed to a
// local stream of the link's tunnel, which owns its socket until it ends and says so here.
#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "connection.hpp"
#include "worker.hpp"

namespace passthru::core {

namespace {

/// Whether `s` may be sent as an M-PROXY header field (printable ASCII, no comma).
bool is_field_text(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c < 0x7F && c != ','; });
}

/// The stream's header fields: the client's address and port, the service (the rule's, else
/// the detected protocol's table name in lower case, "tcp" when none), the listener's port
/// (the one it is bound to), and the name (the rule's, else the SNI or Host).
passthru::mproxy::Meta stream_meta(const IpAddress& client, const Decision& decision, const std::string& listener) {
  passthru::mproxy::Meta meta;
  char text[INET6_ADDRSTRLEN] = {};
  if (client.any.sa_family == AF_INET) {
    meta.family = "IPv4";
    inet_ntop(AF_INET, &client.v4.sin_addr, text, sizeof text);
    meta.port = std::to_string(ntohs(client.v4.sin_port));
  } else {
    meta.family = "IPv6";
    inet_ntop(AF_INET6, &client.v6.sin6_addr, text, sizeof text);
    meta.port = std::to_string(ntohs(client.v6.sin6_port));
  }
  meta.address = text;
  const Action& action = *decision.action;
  if (!action.mux_service.empty()) {
    meta.service = action.mux_service;
  } else if (decision.protocol && decision.kind == Decision::Kind::Rule) {
    meta.service = decision.protocol->name;
    std::transform(meta.service.begin(), meta.service.end(), meta.service.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  } else {
    meta.service = "tcp";
  }
  meta.serviceport = listener.substr(listener.rfind(':') + 1);
  std::string_view name = action.mux_name.empty() ? decision.facts.authority() : std::string_view(action.mux_name);
  if (is_field_text(name)) meta.name = std::string(name);  // else left out: it cannot be framed
  return meta;
}

}  // namespace

void Connection::start_mux() {
  const Action& action = *record_.decision.action;
  stage_ = Stage::MuxWaiting;
  if (action.tunnel_index == kReverseTunnel) {
    // Into the tunnel the far end dialled in and registered this name for, if one is up.
    std::string_view host = action.mux_name.empty() ? record_.decision.facts.authority() : action.mux_name;
    if (Tunnel* tunnel = worker_.registered_tunnel(action.tunnel, host)) on_link_ready(*tunnel);
    else fall_back_for_no_tunnel();
    return;
  }
  const TunnelConfig& tunnel = rules_->config->tunnels[action.tunnel_index];
  std::string_view host = action.mux_name.empty() ? record_.decision.facts.authority() : action.mux_name;
  if (!host.empty() && tunnel.bypass.matches(host)) {
    // Listed in bypass: straight to name:port (the port it was reached on), not through the tunnel.
    std::string why;
    std::string port = rules_->name.substr(rules_->name.rfind(':') + 1);
    auto target = parse_endpoint(std::string(host) + ":" + port, true, PortRule::NonZero, why);
    if (!target) {
      end(CloseReason::ConnectFailed, 0);
      return;
    }
    bypass_to_ = *target;
    record_.bypassed = &bypass_to_;
    stage_ = Stage::Connecting;
    connecting_since_ = std::chrono::steady_clock::now();
    connector_.sends_first(backend_gets_bytes_first());
    connector_.connect(bypass_to_, server_.connect_timeout_ms);
    return;
  }
  link_ = &worker_.tunnel_link(rules_->config, action.tunnel_index);
  deadline_.start(link_->config().connect_timeout_ms, *this);
  link_->request(*this);  // on_link_ready, now if the link is up
}

void Connection::fall_back_for_no_tunnel() {
  stage_ = Stage::Sniffing;  // waiting for no tunnel: the Sniffer still holds the client
  Decision& d = record_.decision;  // the server CATCHALL's from now on; the facts seen stay
  d.kind = Decision::Kind::ServerCatchall;
  d.protocol = nullptr;
  d.fallback = FallbackReason::NoTunnel;
  d.action = server_.catchall ? &*server_.catchall : nullptr;
  rules_->metrics.fell_back(d);
  if (d.action && d.action->kind == ActionKind::Mux && d.action->tunnel_index == kReverseTunnel) {
    end(CloseReason::Rejected, 0);  // a reverse tunnel as the fallback for one that is not up: no
    return;
  }
  apply(record_.decision);  // as any server CATCHALL: its from / not_from, its reject style, its targets
}

void Connection::start_tls_tunnel(passthru::sdk::ByteSpan hello) {
  Socket plain;
  std::string error;
  tls_ = TlsBridge::open(worker_.event_set(), take_tunnel_link(), record_.decision.action->tls, true, {},
                         passthru::sdk::as_chars(hello), plain, error);
  if (!tls_) {
    spdlog::warn("listener={} tunnel TLS: {}", rules_->name, error);
    end(CloseReason::ClientError, 0);
    return;
  }
  tunnel_->start(std::move(plain), {});
}

void Connection::on_deadline() {
  if (stage_ == Stage::MuxWaiting) end(CloseReason::ConnectTimeout, 0);
  // A DEMUX tunnel that must authenticate had timeout_ms to do it.
  if (stage_ == Stage::Tunneling && !tunnel_->authenticated()) tunnel_->refuse("no token within timeout_ms");
}

void Connection::on_link_ready(Tunnel& tunnel) {
  if (stage_ != Stage::MuxWaiting) return;
  deadline_.stop();
  stage_ = Stage::Muxing;
  muxed_ = true;
  rules_->metrics.counters.backend_connect.observe(seconds_since(record_.started));
  ConnBuf sniffed = sniffer_.take_bytes();
  auto first = passthru::sdk::as_chars(sniffed.bytes().subspan(sniffer_.unwrapped().offset));
  TunnelStream::LocalOwner& owner = *this;
  TunnelStream* stream = tunnel.open_local(stream_meta(record_.client, record_.decision, rules_->name),
                                           sniffer_.take_client(), first, record_.decision, owner);
  if (stage_ != Stage::Muxing) return;  // it ended already, and said so
  if (!stream) {
    end(CloseReason::ConnectFailed, 0);
    return;
  }
  mux_ = stream;
}

void Connection::on_stream_finished(CloseReason why, int error, std::uint64_t up, std::uint64_t down) {
  mux_ = nullptr;
  record_.bytes_up = up;
  record_.bytes_down = down;
  end(why, error);
}

}  // namespace passthru::core
