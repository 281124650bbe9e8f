#include "relay.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace passthru::core {

namespace {
// How many reads (each up to a buffer's size, or a pipe's capacity once splicing) one direction
// makes per wake-up before it lets the worker's other connections have their turn: a fast pair
// of peers must not hold the loop.
constexpr int kReadsPerTurn = 4;
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

int uv_error(int error) { return -error; }  // libuv's codes are negated errno values on Linux

int fd_of(uv_tcp_t* tcp) {
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd);
  return fd;
}
}  // namespace

void Relay::start(uv_tcp_t* client, bool client_in_loop, int backend, bool backend_readable, bool client_finished) {
  running_ = true;
  up_.from = down_.to = fd_of(client);
  up_.to = down_.from = backend;
  int status = poller_->watch(up_.from, &client_, client_in_loop);
  if (status < 0) {
    fail(up_, true, -status);
    return;
  }
  // Whatever is readable now is reported by the first wake-up; an EOF already seen is not, nor
  // is a backend edge told before the relay started.
  if (client_finished) {
    up_.eof = true;
    pump(up_);
  }
  down_.readable = backend_readable;
  if (running_ && backend_readable) pump(down_);
}

void Relay::stop() noexcept {
  running_ = false;
  give_back(up_);
  give_back(down_);
}

void Relay::Socket::on_events(std::uint32_t events) {
  Relay& relay = *relay_;
  if (!relay.running_) return;  // stopped by an event earlier in the same batch
  // An error or hang-up is found by the next read or write, which says which one it was.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) source_of_->readable = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) sink_of_->writable = true;
  relay.pump(*sink_of_);  // first empty the pipe waiting for this socket, if one is
  if (relay.running_) relay.pump(*source_of_);
}

void Relay::pump(Direction& d) {
  for (int reads = 0; reads < kReadsPerTurn; ++reads) {
    if (d.shut) return;
    if (d.in_flight > 0 && !write_out(d)) return;  // the sink is full, or failed
    if (d.eof) {
      shut_sink(d);
      return;
    }
    if (!d.readable || !read_in(d)) return;  // nothing more to read, or failed
  }
  // Out of turns with bytes perhaps still waiting: be told again once the others have had theirs.
  bool upstream = &d == &up_;
  poller_->report_again(d.from, upstream ? &client_ : &backend_);
  poller_->report_again(d.to, upstream ? &backend_ : &client_);
}

bool Relay::write_out(Direction& d) {
  while (d.in_flight > 0) {
    if (!d.writable) return false;
    ssize_t n = d.pipe ? splice(d.pipe->read_fd, nullptr, d.to, nullptr, d.in_flight, kSpliceFlags)
                       : write(d.to, d.buffer + d.buffered_at, d.in_flight);  // SIGPIPE is ignored
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        d.writable = false;  // the next EPOLLOUT says when to go on
        return false;
      }
      fail(d, false, errno);
      return false;
    }
    d.in_flight -= static_cast<std::size_t>(n);
    d.buffered_at += static_cast<std::size_t>(n);
    d.bytes += static_cast<std::uint64_t>(n);
  }
  give_back(d);  // empty: another connection may use it
  return true;
}

bool Relay::read_in(Direction& d) {
  if (!d.pipe && !d.buffer) {
    if (d.bulk) d.pipe = pipes_->take();
    if (!d.pipe) d.buffer = buffers_->take();  // not yet in bulk, or no pipe to spare: copy
  }
  ssize_t n;
  do {
    n = d.pipe ? splice(d.from, nullptr, d.pipe->write_fd, nullptr, d.pipe->capacity, kSpliceFlags)
               : read(d.from, d.buffer, buffers_->buffer_size());
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    if (d.buffer && static_cast<std::size_t>(n) == buffers_->buffer_size()) d.bulk = true;
    d.in_flight = static_cast<std::size_t>(n);
    d.buffered_at = 0;
    return true;
  }
  int error = errno;
  give_back(d);  // still empty
  if (n == 0) {
    d.eof = true;
    return true;  // the caller shuts the sink down
  }
  if (error == EAGAIN) {
    d.readable = false;  // the next EPOLLIN says when to go on
    return false;
  }
  fail(d, true, error);
  return false;
}

void Relay::shut_sink(Direction& d) {
  d.shut = true;
  if (::shutdown(d.to, SHUT_WR) != 0) {
    fail(d, false, errno);  // the sink is gone (ENOTCONN after a reset): nothing can be delivered
    return;
  }
  if (up_.shut && down_.shut) owner_->on_relay_finished();
}

void Relay::fail(const Direction& d, bool at_source, int error) {
  // up_ reads the client and writes the backend; down_ the other way round.
  bool client_side = (&d == &up_) == at_source;
  owner_->on_relay_failed(client_side, uv_error(error));
}

void Relay::give_back(Direction& d) noexcept {
  if (d.pipe) {
    if (d.in_flight == 0) pipes_->give(d.pipe);
    else pipes_->destroy(d.pipe);  // its bytes will never be delivered
  }
  buffers_->give(d.buffer);
  d.pipe = nullptr;
  d.buffer = nullptr;
  d.in_flight = 0;
}

}  // namespace passthru::core
