#include "forwarder.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace passthru::core {

namespace {
// How many reads (each up to a buffer's size, or a pipe's capacity once splicing) one direction
// makes per wake-up before it lets the worker's other connections have their turn: a fast pair
// of peers must not hold the loop.
constexpr int kReadsPerTurn = 4;
}  // namespace

void Forwarder::start(Socket client, Socket backend, std::string header, ConnBuf sniffed, std::size_t offset,
                      bool client_finished, const RelayTimeouts& timeouts) {
  running_ = true;
  clock_.start(timeouts, deadline_->now());
  if (client_finished) clock_.half_closed(deadline_->now());
  client_ = std::move(client);
  backend_ = std::move(backend);
  header_ = std::move(header);
  sniffed_ = std::move(sniffed);
  sniffed_offset_ = offset;
  up_.from = down_.to = &client_;
  up_.to = down_.from = &backend_;
  up_.eof = client_finished;
  backend_.tell(*this);
  if (client_.is_watched()) {
    client_.tell(*this);
  } else if (int status = client_.watch(*this); status < 0) {
    fail(up_, true, -status);
    return;
  }
  check_timeouts();
  flushing_ = true;
  flush_first();
}

void Forwarder::on_deadline() { check_timeouts(); }

void Forwarder::check_timeouts() {
  if (!running_) return;
  RelayClock::Verdict verdict = clock_.check(deadline_->now());
  if (verdict.expired) finish(*verdict.expired, 0, false, false);
  else if (verdict.wait_ms > 0) deadline_->start(verdict.wait_ms, *this);
}

void Forwarder::on_ready(Socket& socket) {
  if (!running_) return;
  if (flushing_) {
    if (&socket == &backend_) flush_first();  // the client's edges are kept by its Socket
    return;
  }
  relay_ready(socket);
}

void Forwarder::flush_first() {
  // A PROXY header first if the rule asks for one, then the bytes the detectors saw (less any
  // header an UNWRAP rule stripped), before anything else from the client.
  auto sniffed = sniffed_.bytes().subspan(sniffed_offset_);
  iovec parts[2] = {{header_.data(), header_.size()},
                    {const_cast<std::uint8_t*>(sniffed.data()), sniffed.size()}};
  std::size_t skip = flushed_;  // what earlier writes took
  std::size_t left = 0;
  for (iovec& part : parts) {
    std::size_t taken = std::min(skip, part.iov_len);
    part.iov_base = static_cast<char*>(part.iov_base) + taken;
    part.iov_len -= taken;
    skip -= taken;
    left += part.iov_len;
  }
  if (left > 0) {
    if (!backend_.may_write()) return;  // on at its next writable edge
    ssize_t n = backend_.writev(parts, 2);
    if (n == -EAGAIN) return;
    if (n < 0) {
      fail(up_, false, static_cast<int>(-n));
      return;
    }
    flushed_ += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < left) return;  // the socket is full: on at its next edge
  }
  up_.bytes += sniffed.size();
  sniffed_.release();
  header_ = {};
  flushing_ = false;
  // Whatever either socket said while the first bytes were going out is on record in it.
  pump(up_);
  if (running_) pump(down_);
}

void Forwarder::relay_ready(Socket& socket) {
  // A socket's events concern the direction it is the source of (readable) and the one it is
  // the sink of (writable): first empty what waits for it, then read it.
  bool is_client = &socket == &client_;
  Direction& source_of = is_client ? up_ : down_;
  Direction& sink_of = is_client ? down_ : up_;
  pump(sink_of);
  if (running_) pump(source_of);
}

void Forwarder::pump(Direction& d) {
  for (int reads = 0; reads < kReadsPerTurn; ++reads) {
    if (d.shut || !running_) return;
    if (d.in_flight > 0 && !write_out(d)) return;  // the sink is full, or failed
    if (d.eof) {
      shut_sink(d);
      return;
    }
    if (!d.from->may_read() || !read_in(d)) return;  // nothing more to read, or failed
  }
  // Out of turns with bytes perhaps still waiting: be told again once the others have had theirs.
  d.from->report_again();
  d.to->report_again();
}

bool Forwarder::write_out(Direction& d) {
  while (d.in_flight > 0) {
    if (!d.to->may_write()) return false;
    ssize_t n = d.pipe ? d.to->splice_from(d.pipe->read_fd, d.in_flight)
                       : d.to->write(d.buffer + d.buffered_at, d.in_flight);
    if (n == -EAGAIN) return false;  // the next writable edge says when to go on
    if (n < 0) {
      fail(d, false, static_cast<int>(-n));
      return false;
    }
    d.in_flight -= static_cast<std::size_t>(n);
    d.buffered_at += static_cast<std::size_t>(n);
    d.bytes += static_cast<std::uint64_t>(n);
  }
  give_back(d);  // empty: another connection may use it
  return true;
}

bool Forwarder::read_in(Direction& d) {
  if (!d.pipe && !d.buffer) {
    if (d.bulk) d.pipe = pipes_->take();
    if (!d.pipe) d.buffer = buffers_->take();  // not yet in bulk, or no pipe to spare: copy
  }
  ssize_t n = d.pipe ? d.from->splice_to(d.pipe->write_fd, d.pipe->capacity)
                     : d.from->read(d.buffer, buffers_->buffer_size());
  if (n > 0) {
    clock_.active(deadline_->now());
    if (d.buffer && static_cast<std::size_t>(n) == buffers_->buffer_size()) d.bulk = true;
    d.in_flight = static_cast<std::size_t>(n);
    d.buffered_at = 0;
    return true;
  }
  give_back(d);  // still empty
  if (n == 0) {
    d.eof = true;
    Direction& other = &d == &up_ ? down_ : up_;
    if (!other.eof) {  // the half-closed limit starts: arm for it if it comes before the others
      clock_.half_closed(deadline_->now());
      check_timeouts();
    }
    return running_;  // the caller shuts the sink down, unless a limit had already passed
  }
  if (n == -EAGAIN) return false;  // the next readable edge says when to go on
  fail(d, true, static_cast<int>(-n));
  return false;
}

void Forwarder::shut_sink(Direction& d) {
  d.shut = true;
  Direction& other = &d == &up_ ? down_ : up_;
  if (other.shut) {
    // Both peers have sent their FIN and had every byte: closing sends ours, no shutdown needed.
    finish(CloseReason::Done, 0, false, false);
    return;
  }
  if (int status = d.to->shut_write(); status < 0) {
    fail(d, false, -status);  // the sink is gone (ENOTCONN after a reset): nothing can be delivered
  }
}

void Forwarder::fail(const Direction& d, bool at_source, int error) {
  // A write or shutdown on a socket the peer has reset says only EPIPE or ENOTCONN; the reset
  // itself waits as the socket's error, and says what really happened: ECONNRESET, or EPIPE
  // when the peer had sent its FIN before it reset (Linux's tcp_reset in CLOSE_WAIT).
  bool finished_then_reset = false;
  if (error == EPIPE || error == ENOTCONN) {
    int pending = (at_source ? d.from : d.to)->pending_error();
    if (pending == -ECONNRESET) error = ECONNRESET;
    finished_then_reset = pending == -EPIPE;
  }
  // up_ reads the client and writes the backend; down_ the other way round.
  bool client_side = (&d == &up_) == at_source;
  bool reset = error == ECONNRESET;
  if (client_side) {
    // A client that finished sending and then closed its socket before the whole reply came
    // ended the exchange itself: not an error of the path.
    bool closed_early = (up_.eof || finished_then_reset) && (error == EPIPE || error == ENOTCONN || reset);
    finish(closed_early ? CloseReason::ClientClosed : reset ? CloseReason::ClientReset : CloseReason::ClientError,
           -error, false, true);
  } else {
    finish(reset ? CloseReason::BackendReset : CloseReason::BackendError, -error, true, false);
  }
}

void Forwarder::finish(CloseReason why, int error, bool reset_client, bool reset_backend) {
  if (!running_) return;
  running_ = false;
  deadline_->stop();
  give_back_all();
  client_.close(reset_client);
  backend_.close(reset_backend);
  owner_->on_forwarded(why, error);
}

void Forwarder::stop(CloseReason why) { finish(why, 0, false, false); }

void Forwarder::give_back(Direction& d) noexcept {
  if (d.pipe) {
    if (d.in_flight == 0) pipes_->give(d.pipe);
    else pipes_->destroy(d.pipe);  // its bytes will never be delivered
  }
  buffers_->give(d.buffer);
  d.pipe = nullptr;
  d.buffer = nullptr;
  d.in_flight = 0;
}

void Forwarder::give_back_all() noexcept {
  give_back(up_);
  give_back(down_);
  sniffed_.release();
}

}  // namespace passthru::core
