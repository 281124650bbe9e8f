#include "tunnel_stream.hpp"

#include "../metrics/listener_metrics.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "tunnel.hpp"
#include "worker.hpp"

namespace passthru::core {

using passthru::mproxy::Kind;

namespace {

constexpr int kReadsPerTurn = 4;  // then let other connections have their turn

/// The stream's client address, from its metadata ("IPv4", "10.0.0.1", "5555").
IpAddress address_of(const passthru::mproxy::Meta& meta) {
  sockaddr_storage out{};
  unsigned port = meta.port.empty() ? 0 : static_cast<unsigned>(std::stoul(meta.port));
  if (meta.family == "IPv4") {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, meta.address.c_str(), &v4->sin_addr);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET6, meta.address.c_str(), &v6->sin6_addr);
  }
  unmap_ipv4(out);
  return IpAddress::from(out);
}

}  // namespace

TunnelStream::TunnelStream(Tunnel& tunnel, passthru::mproxy::Meta meta)
    : tunnel_(tunnel),
      meta_(std::move(meta)),
      lifeline_(*this, tunnel.worker().releases()),
      deadline_(tunnel.worker().deadlines()),
      connector_(*this, tunnel.worker().loop(), tunnel.worker().event_set(), deadline_, lifeline_),
      detection_(tunnel.server()) {
  if (tunnel.mproxy_index() != Tunnel::kNoMproxyTable) detection_.skip(tunnel.mproxy_index());  // a stream is not itself a tunnel
  record_.client = address_of(meta_);
  record_.via = tunnel.client_address();
  record_.listener = &tunnel.listener_name();
  record_.stream = meta_.id();
  tunnel.metrics().counters.streams_opened.add();
}

TunnelStream::TunnelStream(Tunnel& tunnel, passthru::mproxy::Meta meta, LocalOwner& owner)
    : TunnelStream(tunnel, std::move(meta)) {
  local_ = &owner;
}

void TunnelStream::start_local(Socket client, std::string_view first, const Decision& decision) {
  record_.decision = decision;
  stage_ = Stage::Open;
  backend_ = std::move(client);
  if (backend_.is_watched()) {
    backend_.tell(*this);
  } else if (int status = backend_.watch(*this); status < 0) {
    close(CloseReason::ClientError, true);
    return;
  }
  tunnel_.send(Kind::Connection, meta_, "");
  if (!first.empty()) {
    record_.bytes_down += first.size();
    tunnel_.send(Kind::Data, meta_, first);
  }
  clock_.start(decision.action->timeouts, deadline_.now());
  check_timeouts();
  if (stage_ == Stage::Open) read_backend();
}

void TunnelStream::start() {
  if (tunnel_.mproxy_index() == Tunnel::kNoMproxyTable) return;  // routed by what its first bytes are
  // The MPROXY table's own rules on the stream's metadata first, if one names it.
  const ProtocolTable& table = tunnel_.server().protocols[tunnel_.mproxy_index()];
  passthru::sdk::Facts facts;
  namespace key = passthru::sdk::fact_key;
  if (!meta_.name.empty()) facts.add(key::kMproxyName, meta_.name);
  if (!meta_.service.empty()) facts.add(key::kMproxyService, meta_.service);
  if (!meta_.serviceport.empty()) facts.add(key::kMproxyServicePort, meta_.serviceport);
  auto rule = table.protocol->select_rule(facts);
  if (!rule || *rule >= table.actions.size()) return;
  const Action& action = table.actions[*rule];
  if (action.rule == "CATCHALL" || (action.kind != ActionKind::Forward && action.kind != ActionKind::Reject)) return;
  Decision d;
  d.kind = Decision::Kind::Rule;
  d.protocol = &table;
  d.action = &action;
  d.facts = FactList(facts);
  decide(d);
}

void TunnelStream::data(std::string&& body) {
  record_.bytes_up += body.size();
  switch (stage_) {
    case Stage::Detecting: {
      pending_ += body;
      std::size_t cap = tunnel_.server().max_sniff_bytes;
      bool full = pending_.size() >= cap;
      auto bytes = passthru::sdk::ByteSpan(reinterpret_cast<const std::uint8_t*>(pending_.data()),
                                           std::min(pending_.size(), cap));
      Decision d = detection_.advance(bytes, false, full, record_.client.get());
      if (d.kind != Decision::Kind::Pending) decide(d);
      return;
    }
    case Stage::Connecting:
      pending_ += body;
      if (!holding_ && pending_.size() > tunnel_.demux().demux.max_stream_buffer) {
        holding_ = true;
        tunnel_.hold_reading(true);
      }
      return;
    case Stage::Open:
      clock_.active(deadline_.now());
      queue_for_backend(std::move(body));
      return;
    case Stage::Ended:
      return;
  }
}

void TunnelStream::decide(const Decision& decision) {
  record_.decision = decision;
  tunnel_.metrics().decided(decision, seconds_since(record_.started));
  if (!decision.action || decision.action->kind != ActionKind::Forward) {
    tunnel_.send(Kind::Error, meta_, R"({"message":"no route for this stream","code":"E_REJECTED"})");
    close(decision.action ? CloseReason::Rejected : CloseReason::NoRoute, false);
    return;
  }
  const Endpoint* to = &decision.action->to;
  if (decision.action->to_stream) {
    std::string why;
    auto target = decision.action->allow->matches(meta_.name)
                      ? parse_endpoint(meta_.name + ":" + meta_.serviceport, true, PortRule::NonZero, why)
                      : std::nullopt;
    if (!target) {
      tunnel_.send(Kind::Error, meta_, R"({"message":"this destination is not allowed","code":"E_NOT_ALLOWED"})");
      close(CloseReason::Rejected, false);
      return;
    }
    stream_target_ = *target;
    to = &stream_target_;
  }
  stage_ = Stage::Connecting;
  connecting_since_ = std::chrono::steady_clock::now();
  connector_.connect(*to, tunnel_.server().connect_timeout_ms);
}

void TunnelStream::on_connect_failed(CloseReason why, int error) { fail(why, error, "E_CONNECT"); }

void TunnelStream::on_connected(Socket backend) {
  stage_ = Stage::Open;
  tunnel_.metrics().counters.backend_connect.observe(seconds_since(connecting_since_));
  backend_ = std::move(backend);
  backend_.tell(*this);
  clock_.start(record_.decision.action->timeouts, deadline_.now());
  if (peer_ended_) clock_.half_closed(deadline_.now());
  check_timeouts();
  const auto& send = record_.decision.action->send_proxy;
  if (send.version != ProxyVersion::None) {
    passthru::wire::ProxyTlvs tlvs;
    tlvs.authority = meta_.name;
    queue_for_backend(write_proxy_header(send, record_.client.get(), tunnel_.client_address().get(), tlvs));
  }
  if (!pending_.empty()) queue_for_backend(std::move(pending_));
  pending_.clear();
  if (stage_ != Stage::Open) return;  // writing failed
  if (holding_) {
    holding_ = false;
    tunnel_.hold_reading(false);
  }
  flush_to_backend();
  if (stage_ == Stage::Open) read_backend();
}

void TunnelStream::on_deadline() { check_timeouts(); }

void TunnelStream::check_timeouts() {
  if (stage_ != Stage::Open) return;
  RelayClock::Verdict verdict = clock_.check(deadline_.now());
  if (verdict.expired) {
    tunnel_.send(Kind::Error, meta_, std::string(R"({"message":")") + token(*verdict.expired) + R"(","code":"E_TIMEOUT"})");
    close(*verdict.expired, false);
  } else if (verdict.wait_ms > 0) {
    deadline_.start(verdict.wait_ms, *this);
  }
}

void TunnelStream::on_ready(Socket&) {
  if (stage_ != Stage::Open) return;
  flush_to_backend();
  if (stage_ == Stage::Open) read_backend();
}

void TunnelStream::queue_for_backend(std::string&& bytes) {
  if (bytes.empty()) return;
  queued_ += bytes.size();
  to_backend_.push_back(std::move(bytes));
  flush_to_backend();
  if (stage_ == Stage::Open) limit_queue();
}

void TunnelStream::limit_queue() {
  std::size_t limit = tunnel_.demux().demux.max_stream_buffer;
  if (!asked_pause_ && queued_ > limit) {
    asked_pause_ = true;  // ask the client to stop sending for this stream
    tunnel_.send(Kind::Pause, meta_, std::to_string(record_.bytes_up));
  }
  if (!holding_ && queued_ > 4 * limit) {
    holding_ = true;  // it did not: stop reading the tunnel until this stream drains
    tunnel_.hold_reading(true);
  }
}

TunnelStream::SpliceReadiness TunnelStream::splice_readiness() {
  if (stage_ != Stage::Open || !to_backend_.empty() || peer_ended_) return SpliceReadiness::Never;
  if (up_piped_ > 0) {
    wait_for_pipe();
    return SpliceReadiness::Later;
  }
  if (!up_pipe_) up_pipe_ = tunnel_.worker().pipe_pool().take();
  return up_pipe_ ? SpliceReadiness::Now : SpliceReadiness::Never;
}

void TunnelStream::wait_for_pipe() {
  if (!holding_for_pipe_) {
    holding_for_pipe_ = true;
    tunnel_.hold_reading(true);
  }
  if (!asked_pause_) {
    asked_pause_ = true;  // its backend is slower than its client: say so
    tunnel_.send(Kind::Pause, meta_, std::to_string(record_.bytes_up));
  }
}

ssize_t TunnelStream::take_spliced(Socket& tunnel, std::size_t most) {
  ssize_t n = tunnel.splice_to(up_pipe_->write_fd, std::min(most, up_pipe_->capacity));
  if (n <= 0) return n;
  clock_.active(deadline_.now());
  up_piped_ = static_cast<std::size_t>(n);
  queued_ += up_piped_;
  record_.bytes_up += up_piped_;
  flush_to_backend();
  // What the backend could not take waits in the pipe. If more of this body follows, nothing
  // else can be read before it: the tunnel waits for the backend, as a plain relay would.
  if (stage_ == Stage::Open && up_piped_ > 0 && static_cast<std::size_t>(n) < most) wait_for_pipe();
  return n;
}

void TunnelStream::flush_to_backend() {
  while (up_piped_ > 0 && backend_.may_write()) {  // a spliced body goes before anything queued after it
    ssize_t n = backend_.splice_from(up_pipe_->read_fd, up_piped_);
    if (n == -EAGAIN) return;  // on at the next writable edge
    if (n < 0) {
      fail(backend_failure(n), static_cast<int>(n), "E_WRITE");
      return;
    }
    up_piped_ -= static_cast<std::size_t>(n);
    queued_ -= static_cast<std::size_t>(n);
  }
  if (up_piped_ == 0 && up_pipe_) {
    tunnel_.worker().pipe_pool().give(up_pipe_);  // empty: another connection may use it
    up_pipe_ = nullptr;
  }
  if (up_piped_ == 0 && holding_for_pipe_) {
    holding_for_pipe_ = false;
    tunnel_.hold_reading(false);
  }
  while (up_piped_ == 0 && !to_backend_.empty() && backend_.may_write()) {
    const std::string& front = to_backend_.front();
    ssize_t n = backend_.write(front.data() + written_, front.size() - written_);
    if (n == -EAGAIN) return;  // on at the next writable edge
    if (n < 0) {
      fail(backend_failure(n), static_cast<int>(n), "E_WRITE");
      return;
    }
    written_ += static_cast<std::size_t>(n);
    queued_ -= static_cast<std::size_t>(n);
    if (written_ == front.size()) {
      to_backend_.pop_front();
      written_ = 0;
    }
  }
  std::size_t limit = tunnel_.demux().demux.max_stream_buffer;
  if (holding_ && queued_ <= limit) {
    holding_ = false;
    tunnel_.hold_reading(false);
  }
  if (asked_pause_ && queued_ <= limit / 2) {
    asked_pause_ = false;
    tunnel_.send(Kind::Resume, meta_, std::to_string(record_.bytes_up));
  }
  if (to_backend_.empty() && peer_ended_ && !backend_shut_) {
    // The client is done sending: a FIN after the last byte; the backend's answer still comes back.
    backend_shut_ = true;
    backend_.shut_write();
    // For a local stream the far end's `end` ended the stream: nothing more comes either way.
    if (local_) close(CloseReason::Done, false);
  }
}

void TunnelStream::read_backend() {
  BufferPool& pool = tunnel_.worker().relay_pool();
  for (int reads = 0; reads < kReadsPerTurn; ++reads) {
    if (stage_ != Stage::Open || !wants_to_read() || !backend_.may_read()) return;
    if (bulk_ && splice_backend()) return;  // on once the tunnel has sent the pipe's bytes
    char* buffer = pool.take();
    ssize_t n = backend_.read(buffer, pool.buffer_size());
    if (n > 0) {
      clock_.active(deadline_.now());
      if (static_cast<std::size_t>(n) == pool.buffer_size()) bulk_ = true;
      record_.bytes_down += static_cast<std::uint64_t>(n);
      tunnel_.send(Kind::Data, meta_, {buffer, static_cast<std::size_t>(n)});
    }
    pool.give(buffer);
    if (n == -EAGAIN) return;
    if (n == 0) {
      socket_finished();
      return;
    }
    if (n < 0) {
      fail(backend_failure(n), static_cast<int>(n), "E_READ");
      return;
    }
  }
  backend_.report_again();  // out of turns: told again at the next turn if bytes still wait
}

bool TunnelStream::splice_backend() {
  PipePool& pipes = tunnel_.worker().pipe_pool();
  KernelPipe* pipe = pipes.take();
  if (!pipe) return false;  // none to spare: copy
  ssize_t n = backend_.splice_to(pipe->write_fd, pipe->capacity);
  if (n > 0) {
    clock_.active(deadline_.now());
    record_.bytes_down += static_cast<std::uint64_t>(n);
    piping_ = true;
    if (tunnel_.send_piped(meta_, pipe, static_cast<std::size_t>(n))) return true;
    pipes.destroy(pipe);
    piping_ = false;
    fail(CloseReason::ClientError, -EMSGSIZE, "E_PACK");
    return true;
  }
  pipes.give(pipe);  // still empty
  if (n == -EAGAIN) return true;
  if (n == 0) {
    socket_finished();
  } else {
    fail(backend_failure(n), static_cast<int>(n), "E_READ");
  }
  return true;
}

void TunnelStream::socket_finished() {
  tunnel_.send(Kind::End, meta_, "");
  if (local_ && !peer_ended_) {
    // The client finished sending; the far end's answer still comes, until its `end`.
    local_eof_ = true;
    clock_.half_closed(deadline_.now());
    check_timeouts();
    return;
  }
  // A backend's EOF finishes the stream (M-PROXY has no half-close).
  close(CloseReason::Done, false);
}

void TunnelStream::piped_sent() {
  piping_ = false;
  read_backend();
}

void TunnelStream::peer_end() {
  peer_ended_ = true;
  if (stage_ == Stage::Detecting) {
    auto bytes = passthru::sdk::ByteSpan(reinterpret_cast<const std::uint8_t*>(pending_.data()), pending_.size());
    decide(detection_.advance(bytes, true, false, record_.client.get()));
  } else if (stage_ == Stage::Open) {
    clock_.half_closed(deadline_.now());
    check_timeouts();
    if (stage_ == Stage::Open) flush_to_backend();
  }
}

void TunnelStream::peer_error() { close(local_ ? CloseReason::BackendReset : CloseReason::ClientReset, true); }

void TunnelStream::peer_pause(bool pause) {
  peer_paused_ = pause;
  read_backend();
}

void TunnelStream::throttle(bool full) {
  throttled_ = full;
  read_backend();
}

void TunnelStream::fail(CloseReason why, int error, const char* code) {
  record_.error = error;
  std::string body = std::string(R"({"message":")") + uv_strerror(error) + R"(","code":")" + code + "\"}";
  tunnel_.send(Kind::Error, meta_, body);
  close(why, true);
}

void TunnelStream::close(CloseReason why, bool reset) {
  if (stage_ == Stage::Ended) return;
  stage_ = Stage::Ended;
  record_.end = why;
  if (holding_) {
    holding_ = false;
    tunnel_.hold_reading(false);
  }
  if (holding_for_pipe_) {
    holding_for_pipe_ = false;
    tunnel_.hold_reading(false);
  }
  if (up_pipe_) {
    if (up_piped_ > 0) tunnel_.worker().pipe_pool().destroy(up_pipe_);  // its bytes will never be delivered
    else tunnel_.worker().pipe_pool().give(up_pipe_);
    up_pipe_ = nullptr;
  }
  connector_.cancel();
  deadline_.stop();
  backend_.close(reset);
  to_backend_.clear();
  if (local_) {
    // Its client's connection logs it, with the client's bytes: up from it, down to it.
    local_->on_stream_finished(why, record_.error, record_.bytes_down, record_.bytes_up);
  } else {
    tunnel_.worker().access_log().write(record_);
  }
  tunnel_.metrics().stream_ended(record_);
  tunnel_.stream_ended(this);
  deadline_.close();
  lifeline_.let_go();  // on_released() follows at the end of the turn
}

void TunnelStream::on_released() { tunnel_.stream_released(this); }

}  // namespace passthru::core
