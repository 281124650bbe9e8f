#include "tunnel_link.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <random>

#include "connector.hpp"
#include "deadline.hpp"
#include "lifeline.hpp"
#include "tls_bridge.hpp"
#include "worker.hpp"

namespace passthru::core {

/// One dial of the link and, once connected, the Tunnel over it. Its Lifeline holds it until
/// its dial has called back and every stream the tunnel carried is released.
class TunnelLink::Session final : private Lifeline::Owner, private Connector::Owner, private Tunnel::Owner {
 public:
  explicit Session(TunnelLink& link)
      : link_(link),
        lifeline_(*this, link.worker_.releases()),
        deadline_(link.worker_.deadlines()),
        connector_(*this, link.worker_.loop(), link.worker_.event_set(), deadline_, lifeline_) {}

  void dial() { connector_.connect(link_.tunnel_.connect, link_.tunnel_.connect_timeout_ms); }
  Tunnel* tunnel() noexcept { return tunnel_.get(); }

  /// Ends the dial or the tunnel (its streams end with `why`); released once all is closed.
  void close(CloseReason why) {
    if (closed_) return;
    closed_ = true;
    connector_.cancel();
    if (tunnel_) tunnel_->close(why);
    if (tls_) tls_->close();
    deadline_.close();
    lifeline_.let_go();
  }

 private:
  void on_connected(Socket socket) override {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    getpeername(socket.fd(), reinterpret_cast<sockaddr*>(&peer), &length);
    unmap_ipv4(peer);
    // A link can outlive what carries it: a NAT that forgets it, a far end switched off. Without
    // probes this side would hold it for good and never dial again.
    if (int status = socket.keep_alive(link_.tunnel_.keepalive_ms); status < 0)
      spdlog::warn("tunnel={}: cannot set TCP keepalive: {}", link_.tunnel_.name, uv_strerror(status));
    Tunnel::Owner& owner = *this;
    tunnel_ = std::make_unique<Tunnel>(owner, link_.worker_, *link_.rules_, link_.demux_, Tunnel::kNoMproxyTable,
                                       IpAddress::from(peer), lifeline_);
    if (link_.tunnel_.tls) {  // the Tunnel gets the plain end of the bridge
      Socket plain;
      std::string error;
      tls_ = TlsBridge::open(link_.worker_.event_set(), std::move(socket), link_.tunnel_.tls, false,
                             link_.tunnel_.server_name, {}, plain, error);
      if (!tls_) spdlog::warn("tunnel={}: {}", link_.tunnel_.name, error);
      socket = std::move(plain);  // closed already if the bridge failed: the tunnel ends at once
    }
    tunnel_->start(std::move(socket), {});
    // A control message first, so that the far end's MPROXY table sees a tunnel (not a stream
    // to pass on whole) and, with a token, whether to accept it.
    if (!closed_) tunnel_->send(passthru::mproxy::Kind::Control, {}, link_.greeting());
    if (!closed_) link_.connected(*this);
  }
  void on_connect_failed(CloseReason why, int error) override { link_.dial_failed(*this, why, error); }
  void on_tunnel_finished(CloseReason why, int error) override { link_.lost(*this, why, error); }
  void on_tunnel_idle() override { link_.idle(*this); }
  void on_released() override { link_.released(this); }

  TunnelLink& link_;
  Lifeline lifeline_;
  Deadline deadline_;
  Connector connector_;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<TlsBridge> tls_;  ///< tls = true: between the network and the tunnel
  bool closed_ = false;
};

namespace {
std::string link_name(const TunnelConfig& tunnel) { return "tunnel:" + tunnel.name; }
}  // namespace

TunnelLink::TunnelLink(Worker& worker, std::shared_ptr<const Config> config, std::size_t index)
    : worker_(worker), config_(std::move(config)), tunnel_(config_->tunnels.at(index)) {
  rules_ = std::make_unique<ListenerRules>(0, config_, tunnel_.routes, link_name(tunnel_),
                                           std::make_shared<ConnectionLimits::PerListener>(), worker.counters());
  demux_.kind = ActionKind::Demux;
  demux_.rule = link_name(tunnel_);
  demux_.demux = tunnel_.limits;
  uv_timer_init(worker.loop(), &timer_);
  timer_.data = this;
  timer_open_ = true;
}

TunnelLink::~TunnelLink() = default;

std::string TunnelLink::greeting() const {
  // The names are letters, digits, '-', '_' and '.' (config.cpp): nothing to escape.
  std::string token = tunnel_.token.empty() ? "" : R"(,"token":")" + tunnel_.token + "\"";
  return R"([1,"auth",{"tunnel":")" + tunnel_.name + "\"" + token + "}]";
}

void TunnelLink::request(Client& client) {
  if (state_ == State::Closed) return;  // the connection times out, as it would waiting for a dial
  if (state_ == State::Up) {
    uv_timer_stop(&timer_);  // a stream opens: no idle close
    client.on_link_ready(*session_->tunnel());
    return;
  }
  waiting_.push_back(&client);
  if (state_ == State::Idle) dial();
}

void TunnelLink::keep_up() {
  if (state_ == State::Idle) dial();
}

void TunnelLink::cancel(Client& client) noexcept {
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), &client), waiting_.end());
}

void TunnelLink::dial() {
  state_ = State::Dialling;
  session_ = std::make_unique<Session>(*this);
  session_->dial();
}

void TunnelLink::connected(Session& session) {
  if (&session != session_.get()) return;
  state_ = State::Up;
  if (failures_ > 0) spdlog::info("tunnel={} connected to {} again", tunnel_.name, tunnel_.connect.to_string());
  failures_ = 0;
  // Each waiting connection opens its stream; one may end at once, and others leave the queue.
  while (!waiting_.empty() && state_ == State::Up) {
    Client* client = waiting_.front();
    waiting_.pop_front();
    client->on_link_ready(*session_->tunnel());
  }
  if (state_ == State::Up && session_->tunnel()->open_stream_count() == 0) idle(session);
}

void TunnelLink::dial_failed(Session& session, CloseReason why, int error) {
  if (&session != session_.get()) return;
  spdlog::warn("tunnel={} cannot connect to {}: {} ({})", tunnel_.name, tunnel_.connect.to_string(), token(why),
               error ? uv_err_name(error) : "-");
  retire(why);
  pause_then_dial();
}

void TunnelLink::lost(Session& session, CloseReason why, int error) {
  if (&session != session_.get()) return;
  spdlog::warn("tunnel={} to {} lost: {} ({})", tunnel_.name, tunnel_.connect.to_string(), token(why),
               error ? uv_err_name(error) : "-");
  retire(CloseReason::TunnelLost);
  if (keeps_open() || !waiting_.empty()) pause_then_dial();
}

void TunnelLink::idle(Session& session) {
  if (&session != session_.get() || state_ != State::Up || !tunnel_.idle_timeout_ms) return;
  if (*tunnel_.idle_timeout_ms == 0) {
    retire(CloseReason::IdleTimeout);
    return;
  }
  uv_timer_start(&timer_, on_timer, *tunnel_.idle_timeout_ms, 0);
}

void TunnelLink::retire(CloseReason why) {
  uv_timer_stop(&timer_);
  state_ = State::Idle;
  if (!session_) return;
  Session* session = session_.get();
  retired_.push_back(std::move(session_));
  session->close(why);  // released at the end of the turn at the soonest, never from here
}

void TunnelLink::released(Session* session) {
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(), [&](const auto& s) { return s.get() == session; }),
                 retired_.end());
}

void TunnelLink::pause_then_dial() {
  if (state_ == State::Closed) return;
  // min * 2^failures, capped, drawn between half and all of it so that links lost together
  // (the far end restarted) do not all dial again at the same moment.
  std::uint64_t pause = tunnel_.reconnect_min_ms;
  for (unsigned i = 0; i < failures_ && pause < tunnel_.reconnect_max_ms; ++i) pause *= 2;
  pause = std::min<std::uint64_t>(pause, tunnel_.reconnect_max_ms);
  thread_local std::mt19937_64 random{std::random_device{}()};
  pause = pause / 2 + random() % (pause - pause / 2 + 1);
  ++failures_;
  state_ = State::Pausing;
  uv_timer_start(&timer_, on_timer, pause, 0);
}

void TunnelLink::on_timer(uv_timer_t* timer) {
  auto* self = static_cast<TunnelLink*>(timer->data);
  switch (self->state_) {
    case State::Pausing:
      self->dial();
      return;
    case State::Up:  // idle for idle_timeout_ms
      if (self->session_->tunnel()->open_stream_count() == 0) self->retire(CloseReason::IdleTimeout);
      return;
    case State::Idle:
    case State::Dialling:
    case State::Closed:
      return;
  }
}

void TunnelLink::close() {
  if (state_ == State::Closed) return;
  retire(CloseReason::Shutdown);
  state_ = State::Closed;
  waiting_.clear();
  if (timer_open_) {
    timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }
}

}  // namespace passthru::core
