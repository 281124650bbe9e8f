#include "tunnel.hpp"

#include <spdlog/spdlog.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "tunnel_auth.hpp"
#include "tunnel_stream.hpp"
#include "worker.hpp"

namespace passthru::core {

using passthru::mproxy::Kind;

namespace {
constexpr std::size_t kOutputHigh = 1024 * 1024;  // stop the streams' backends above this
constexpr std::size_t kOutputLow = 256 * 1024;    // and start them again below this
constexpr int kReadsPerTurn = 4;                  // then let other connections have their turn
constexpr int kPartsPerWrite = 16;                // messages given to one writev
// A data body with at least this much still to come is spliced from the client to its backend;
// a shorter one is read with the messages around it, which one read(2) takes in at once.
// While bodies come in bulk, a read between messages takes the header and no more (its length
// guessed from the last header's, exact once begun), so that its whole body is spliced: a body's
// first bytes read with the header would cost a write(2) of their own, and a small TCP segment.
constexpr std::size_t kSpliceBodyAtLeast = 16 * 1024;

}  // namespace

Tunnel::Tunnel(Owner& owner, Worker& worker, ListenerRules& rules, const Action& demux, std::uint32_t mproxy_index,
               const IpAddress& client_address, Lifeline& lifeline)
    : owner_(owner),
      worker_(worker),
      server_(rules.server),
      metrics_(rules.metrics),
      demux_(demux),
      mproxy_index_(mproxy_index),
      listener_name_(rules.name),
      client_address_(client_address),
      lifeline_(lifeline),
      decoder_(demux.demux.max_message_bytes),
      authenticated_(!demux.tokens) {}

Tunnel::~Tunnel() {
  if (registered_) worker_.withdraw_tunnel(*this);
}

void Tunnel::start(Socket client, passthru::sdk::ByteSpan already_read) {
  client_ = std::move(client);
  // Read at once on accept, before the first edge: what it answers (an E_AUTH refusal) goes out now.
  client_.assume_writable();
  if (client_.is_watched()) {
    client_.tell(*this);
  } else if (int status = client_.watch(*this); status < 0) {
    finish(CloseReason::ClientError, status);
    return;
  }
  received(passthru::sdk::as_chars(already_read));
  read_available();
}

void Tunnel::on_ready(Socket&) {
  if (closing_) return;
  flush_output();
  read_available();
}

void Tunnel::read_available() {
  BufferPool& pool = worker_.relay_pool();
  for (int reads = 0; reads < kReadsPerTurn; ++reads) {
    if (finished_ || closing_ || holds_ > 0 || !client_.may_read()) return;
    if (splice_body()) continue;
    char* buffer = pool.take();
    std::size_t header_left = decoder_.header_left();
    std::size_t size = bulk_bodies_ && header_left > 0 ? header_left : pool.buffer_size();
    ssize_t n = client_.read(buffer, size);
    if (n > 0) received({buffer, static_cast<std::size_t>(n)});
    pool.give(buffer);
    if (n == -EAGAIN) return;
    if (n == 0) {
      // The client's EOF ends the tunnel: it has no half-close, and its streams end with it.
      finish(CloseReason::Done, 0);
      return;
    }
    if (n < 0) {
      finish(client_failure(n), static_cast<int>(n));
      return;
    }
  }
  client_.report_again();  // out of turns: told again at the next turn if bytes still wait
}

bool Tunnel::splice_body() {
  const passthru::mproxy::Message* message = decoder_.data_body_in_progress();
  if (!message) return false;
  bulk_bodies_ = body_length(*message) >= kSpliceBodyAtLeast;
  if (!bulk_bodies_) return false;  // a long body is spliced to its end, however TCP cuts it
  auto it = streams_.find(message->meta.id());
  if (it == streams_.end()) return false;  // read, and answered E_NO_CONN, as usual
  TunnelStream& stream = *it->second;
  using Readiness = TunnelStream::SpliceReadiness;
  Readiness ready = stream.splice_readiness();
  if (ready == Readiness::Now) {
    if (std::string part = decoder_.take_partial_body(); !part.empty()) {
      stream.data(std::move(part));  // what was read with the header goes first
      ready = stream.splice_readiness();
    }
  }
  if (ready == Readiness::Never) return false;
  if (ready == Readiness::Later) return true;  // reading is held until the stream's pipe is out
  ssize_t n = stream.take_spliced(client_, decoder_.body_left());
  if (n > 0) {
    bytes_in_ += static_cast<std::size_t>(n);
    decoder_.skip_body(static_cast<std::size_t>(n));
  } else if (n == 0) {
    finish(CloseReason::Done, 0);  // the client's EOF, as in read_available
  } else if (n != -EAGAIN) {
    finish(client_failure(n), static_cast<int>(n));
  }
  return true;  // on in read_available, which looks at what this changed
}

void Tunnel::received(std::string_view bytes) {
  if (finished_ || closing_) return;
  bytes_in_ += bytes.size();
  bool ok = decoder_.feed(bytes, [this](passthru::mproxy::Message&& m) {
    if (!finished_ && !closing_) dispatch(std::move(m));
  });
  if (!ok && !finished_) {
    protocol_error_ = decoder_.error();
    finish(CloseReason::ProtocolError, 0);
  }
}

void Tunnel::authenticate(const passthru::mproxy::Message& m) {
  // [id,"auth",{"tunnel":"NAME","token":"TOKEN"}] (what TunnelLink sends), first.
  auto request = m.kind == Kind::Control ? read_auth_request(m.body) : std::nullopt;
  if (!request) {
    refuse("the first message did not authenticate");
    return;
  }
  const TokenGrant* grant = demux_.tokens->find(request->token);
  if (!grant || grant->tunnel != request->tunnel) {
    refuse("a token not granted for this tunnel");
    return;
  }
  authenticated_ = true;
  grant_ = grant;
  if (!grant->names.empty()) {
    worker_.register_tunnel(grant->tunnel, *this);  // a reverse tunnel: MUX rules may use it
    registered_ = true;
  }
  spdlog::info("tunnel={} authenticated from {}{}", grant->tunnel, format_address(client_address_.get()),
               registered_ ? " and registered" : "");
}

void Tunnel::refuse(const std::string& why) {
  if (finished_ || closing_) return;
  send(Kind::Control, {}, R"([0,{"code":"E_AUTH","message":")" + why + R"("}])");
  protocol_error_ = why;
  finish(CloseReason::Rejected, 0);
}

void Tunnel::dispatch(passthru::mproxy::Message&& m) {
  if (!authenticated_) {
    authenticate(m);
    return;
  }
  if (m.kind == Kind::Control) {
    // Commands (the relay's hello, grants) need no answer from an endpoint; a body that is not a
    // JSON array is not M-PROXY.
    if (m.body.empty() || m.body.front() != '[' || m.body.back() != ']') {
      protocol_error_ = "a control message whose body is not a JSON array";
      finish(CloseReason::ProtocolError, 0);
    }
    return;
  }
  std::string id = m.meta.id();
  auto it = streams_.find(id);
  TunnelStream* stream = it == streams_.end() ? nullptr : it->second.get();
  switch (m.kind) {
    case Kind::Connection:
      if (stream) {
        send(Kind::Error, m.meta, R"({"message":"this stream is already open","code":"E_CONN_EXISTS"})");
      } else if (streams_.size() >= demux_.demux.max_streams) {
        send(Kind::Error, m.meta, R"({"message":"too many streams in this tunnel","code":"E_TOO_MANY_STREAMS"})");
      } else {
        auto created = std::make_unique<TunnelStream>(*this, m.meta);
        TunnelStream* raw = created.get();
        streams_.emplace(id, std::move(created));
        lifeline_.hold();  // the connection stays until this stream is released
        ++streams_opened_;
        raw->start();
        if (output_full_) raw->throttle(true);
      }
      return;
    case Kind::Data:
      if (!stream) send(Kind::Error, m.meta, R"({"message":"no matching connection","code":"E_NO_CONN"})");
      else stream->data(std::move(m.body));
      return;
    case Kind::End:
      if (stream) stream->peer_end();
      return;
    case Kind::Error:
      if (stream) stream->peer_error();
      return;
    case Kind::Pause:
    case Kind::Resume:
      if (stream) stream->peer_pause(m.kind == Kind::Pause);
      return;
    case Kind::Control:
      return;
  }
}

void Tunnel::send(Kind kind, const passthru::mproxy::Meta& meta, std::string_view body) {
  if (closing_ || finished_) return;
  std::string error;
  auto packed = passthru::mproxy::pack(kind, meta, body, false, error);
  if (!packed) {
    spdlog::warn("tunnel: cannot pack a {} message: {}", passthru::mproxy::to_string(kind), error);
    return;
  }
  output_queued_ += packed->size();
  bytes_out_ += packed->size();
  output_.push_back({std::move(*packed), nullptr, 0, {}});
  flush_output();
  if (!output_full_ && output_queued_ > kOutputHigh) throttle_streams(true);
}

bool Tunnel::send_piped(const passthru::mproxy::Meta& meta, KernelPipe* pipe, std::size_t length) {
  if (closing_ || finished_) return false;
  std::string error;
  auto header = passthru::mproxy::pack_header(Kind::Data, meta, length, error);
  if (!header) {
    spdlog::warn("tunnel: cannot pack a data message: {}", error);
    return false;
  }
  output_queued_ += header->size() + length;
  bytes_out_ += header->size() + length;
  output_.push_back({std::move(*header), pipe, length, meta.id()});
  flush_output();
  if (!output_full_ && output_queued_ > kOutputHigh) throttle_streams(true);
  return true;
}

void Tunnel::flush_output() {
  if (flushing_) return;  // a stream told below sent more: the loop there takes it
  flushing_ = true;
  std::vector<std::string> emptied = write_output();
  flushing_ = false;
  // Told after the loop: a stream told its pipe is free reads its backend and sends at once.
  for (const std::string& id : emptied)
    if (auto it = streams_.find(id); it != streams_.end()) it->second->piped_sent();
  if (output_full_ && output_queued_ < kOutputLow) throttle_streams(false);
}

std::vector<std::string> Tunnel::write_output() {
  std::vector<std::string> emptied;
  PipePool& pipes = worker_.pipe_pool();
  while (!output_.empty() && client_.is_open() && client_.may_write()) {
    Outgoing& front = output_.front();
    ssize_t n;
    if (output_written_ < front.bytes.size()) {
      // Whole messages in one writev; one whose body waits in a pipe ends the batch.
      iovec parts[kPartsPerWrite];
      int count = 0;
      for (auto it = output_.begin(); it != output_.end() && count < kPartsPerWrite; ++it) {
        std::size_t skip = count == 0 ? output_written_ : 0;
        parts[count++] = {it->bytes.data() + skip, it->bytes.size() - skip};
        if (it->pipe) break;
      }
      n = client_.writev(parts, count);
    } else {
      n = client_.splice_from(front.pipe->read_fd, front.piped);  // the header is out: its body
    }
    if (n == -EAGAIN) break;  // on at the next writable edge
    if (n < 0) {
      finish(client_failure(n), static_cast<int>(n));
      break;
    }
    output_queued_ -= static_cast<std::size_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (!output_.empty()) {
      Outgoing& out = output_.front();
      std::size_t in_bytes = std::min(left, out.bytes.size() - output_written_);
      output_written_ += in_bytes;
      left -= in_bytes;
      if (output_written_ < out.bytes.size()) break;
      if (out.pipe) {
        if (in_bytes == 0) {  // this call spliced from its pipe
          out.piped -= left;
          left = 0;
        }
        if (out.piped > 0) break;
        pipes.give(out.pipe);
        emptied.push_back(std::move(out.stream));
      }
      output_.pop_front();
      output_written_ = 0;
      if (left == 0) break;
    }
  }
  return emptied;
}

void Tunnel::throttle_streams(bool full) {
  output_full_ = full;
  // A stream told it may read again sends at once, and may end (leaving the map) or fill the
  // output again: walk a copy. An ended stream is deleted only at the end of the turn.
  for (TunnelStream* s : open_streams()) {
    if (output_full_ != full) return;  // the output filled again: the rest stay as they were
    s->throttle(full);
  }
}

std::vector<TunnelStream*> Tunnel::open_streams() const {
  std::vector<TunnelStream*> open;
  open.reserve(streams_.size());
  for (const auto& [key, s] : streams_) open.push_back(s.get());
  return open;
}

void Tunnel::hold_reading(bool hold) {
  holds_ += hold ? 1 : -1;
  if (holds_ == 0) read_available();
}

void Tunnel::stream_ended(TunnelStream* stream) {
  if (auto it = streams_.find(stream->id()); it != streams_.end() && it->second.get() == stream) {
    ended_.emplace(stream, std::move(it->second));
    streams_.erase(it);
    if (streams_.empty() && !closing_ && !finished_) owner_.on_tunnel_idle();
  }
}

TunnelStream* Tunnel::open_local(passthru::mproxy::Meta meta, Socket client, std::string_view first,
                                 const Decision& decision, TunnelStream::LocalOwner& owner) {
  if (closing_ || finished_ || streams_.size() >= demux_.demux.max_streams) return nullptr;
  std::string error;
  if (!passthru::mproxy::pack_header(Kind::Connection, meta, 0, error)) {
    spdlog::warn("tunnel: cannot carry a connection: {}", error);
    return nullptr;
  }
  std::string id = meta.id();
  if (streams_.count(id)) return nullptr;
  auto created = std::make_unique<TunnelStream>(*this, std::move(meta), owner);
  TunnelStream* raw = created.get();
  streams_.emplace(id, std::move(created));
  lifeline_.hold();  // released with the stream, as for the far end's streams
  ++streams_opened_;
  raw->start_local(std::move(client), first, decision);
  if (output_full_ && streams_.count(id)) raw->throttle(true);
  return raw;
}

void Tunnel::stream_released(TunnelStream* stream) {
  ended_.erase(stream);
  lifeline_.release();  // last: it may let the connection, and this tunnel, go
}

void Tunnel::finish(CloseReason why, int error) {
  if (finished_) return;
  finished_ = true;
  owner_.on_tunnel_finished(why, error);
}

void Tunnel::close(CloseReason why) {
  if (closing_) return;
  if (registered_) worker_.withdraw_tunnel(*this);
  flush_output();  // a last try, so that what was sent before (error messages) still arrives
  closing_ = true;
  // A stream ends with its tunnel: said as such, unless passthru is stopping.
  CloseReason stream_end =
      why == CloseReason::Shutdown || why == CloseReason::TunnelLost ? why : CloseReason::TunnelClosed;
  for (TunnelStream* s : open_streams()) s->close(stream_end, true);  // which takes it out of the map
  client_.close();
  for (Outgoing& out : output_)
    if (out.pipe) worker_.pipe_pool().destroy(out.pipe);  // its bytes will never be delivered
  output_.clear();
}

}  // namespace passthru::core
