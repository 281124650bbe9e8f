// Unit tests of Forwarder, between a client and a backend the test plays on socket pairs: bytes
// both ways (copied on Unix pairs, spliced in bulk on loopback TCP), a first flush the backend's
// socket takes in pieces, half-close each way, resets passed on, backpressure, and a client that
// closed before the reply.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <string>

#include "loop_fixture.hpp"
#include "server/buffer_pool.hpp"
#include "server/forwarder.hpp"
#include "server/pipe_pool.hpp"

using namespace passthru::core;
using namespace passthru::core::testing;

namespace {

enum class Link { Unix, Tcp };

std::string name(Link link) { return link == Link::Unix ? "unix" : "tcp"; }

struct Shape {
  Link link = Link::Unix;
  std::size_t pipes = 0;  ///< how many pipes the forwarder may have: 0 makes it copy throughout
  int buffer_bytes = 0;   ///< SO_SNDBUF and SO_RCVBUF of every socket, when > 0
};

/// A connected pair of this shape's link and buffers.
FdPair pair_of(Shape shape) {
  return shape.link == Link::Unix ? unix_pair(shape.buffer_bytes) : tcp_pair(shape.buffer_bytes);
}

struct ForwardRecord final : Forwarder::Owner {
  void on_forwarded(CloseReason why, int error) override { end.hear(why, error); }
  /// What the owner heard, as the access log's end= and error= read: "done", "client_reset ECONNRESET".
  [[nodiscard]] std::string heard() const { return end.text(); }

  HeardEnd end;
};

/// A Forwarder between a client and a backend that the test plays: `client` and `backend` are
/// the test's ends, the forwarder holds the others.
struct Relay {
  static constexpr std::size_t kBufferSize = 16 * 1024;

  Relay(LoopFixture& fixture, Shape shape) : fx(fixture), pipes(2, shape.pipes) {
    FdPair to_client = pair_of(shape);
    FdPair to_backend = pair_of(shape);
    client = Peer(to_client.peer);
    backend = Peer(to_backend.peer);
    client_socket = Socket(fx.events(), to_client.stage);  // not watched yet, as after a Sniffer that decided at once
    backend_socket = fx.watched(to_backend.stage);          // watched, as the Connector hands it over
  }

  /// Starts forwarding: `header`, then `sniffed` from `offset` on, go to the backend first.
  void start(std::string header = {}, std::string_view sniffed = {}, std::size_t offset = 0,
             bool client_finished = false) {
    ConnBuf bytes(sniff_pool);
    uv_buf_t space = bytes.free_space();
    REQUIRE(sniffed.size() <= space.len);
    std::copy(sniffed.begin(), sniffed.end(), space.base);
    bytes.commit(sniffed.size());
    forwarder.start(std::move(client_socket), std::move(backend_socket), std::move(header), std::move(bytes), offset,
                    client_finished, RelayTimeouts{});
  }

  [[nodiscard]] bool ended() const { return owner.end.times > 0; }

  /// Turns the loop with both peers writing what they queued and reading what came, until `done`.
  template <typename Done>
  bool exchange_until(Done&& done) {
    return fx.turn_until([&] {
      client.push();
      backend.push();
      client.pull();
      backend.pull();
      return done();
    });
  }

  LoopFixture& fx;
  PipePool pipes;
  BufferPool buffers{kBufferSize, 4};
  BufferPool sniff_pool{64 * 1024, 1};
  ForwardRecord owner;
  Forwarder forwarder{owner, pipes, buffers, fx.deadline()};
  Peer client;
  Peer backend;
  Socket client_socket;
  Socket backend_socket;
};

/// Bytes this process has moved with read(2) and readv(2) ("rchar"): what the forwarder copied
/// through its buffers. The peers use recv(2), and splice(2) is not counted.
std::uint64_t bytes_read_by_process() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  FAIL("/proc/self/io has no rchar");
  return 0;
}

/// How many bytes one end of a fresh pair of this shape can write while nobody reads: what the
/// kernel holds between two sockets.
std::size_t held_by_one_pair(Shape shape) {
  FdPair pair = pair_of(shape);
  Peer writer(pair.peer);
  Peer reader(pair.stage);
  writer.send(std::string(16 * 1024 * 1024, 'x'));
  return writer.written;
}

}  // namespace

TEST_CASE("bytes sent both ways at once arrive intact: copied through a buffer when no pipe is to be had, spliced in bulk otherwise") {
  struct Case {
    Shape shape;
    std::size_t up;
    std::size_t down;
    bool splices;
  };
  for (Case c : {Case{{Link::Unix, 0}, 300 * 1000, 200 * 1000, false},
                 Case{{Link::Tcp, 4}, 8 * 1024 * 1024, 8 * 1024 * 1024, true}}) {
    CAPTURE(name(c.shape.link));
    LoopFixture fx;
    {
      Relay relay(fx, c.shape);
      std::string up = pattern(c.up, 1);
      std::string down = pattern(c.down, 2);
      std::uint64_t copied_before = bytes_read_by_process();
      relay.start("HEADER\r\n", "first bytes");
      relay.client.send(up);
      relay.backend.send(down);
      CHECK(relay.exchange_until([&] {
        return relay.backend.received.size() == 8 + 11 + up.size() && relay.client.received.size() == down.size();
      }));
      CHECK(relay.backend.received == "HEADER\r\nfirst bytes" + up);
      CHECK(relay.client.received == down);
      std::uint64_t copied = bytes_read_by_process() - copied_before;
      CAPTURE(copied);
      if (c.splices) {
        CHECK(copied < 16 * Relay::kBufferSize);  // each way copies until one read fills its buffer
      } else {
        CHECK(copied >= up.size() + down.size());  // the measure sees copying, byte for byte
      }
      CHECK(relay.forwarder.bytes_up() == 11 + up.size());  // the header is passthru's, not the client's
      CHECK(relay.forwarder.bytes_down() == down.size());
      CHECK_FALSE(relay.ended());
      relay.client.shut_write();
      relay.backend.shut_write();
      CHECK(relay.exchange_until([&] { return relay.ended() && relay.client.eof && relay.backend.eof; }));
      CHECK(relay.owner.heard() == "done");
    }
    CHECK(fx.close() == 0);
  }
}

TEST_CASE("a first flush the backend's socket cannot take at once goes on at its writable edges, and no client byte overtakes it") {
  struct Case {
    std::size_t header;
    std::size_t sniffed;
    std::size_t offset;  ///< bytes of the sniffed ones an UNWRAP rule stripped
  };
  // The first write stops inside the sniffed bytes, inside a long header, or after a stripped prefix.
  for (Case c : {Case{0, 40000, 0}, Case{6000, 20000, 0}, Case{30000, 100, 0}, Case{200, 30000, 16}}) {
    CAPTURE(c.header);
    CAPTURE(c.sniffed);
    CAPTURE(c.offset);
    LoopFixture fx;
    {
      // Small buffers on both pairs: the backend's socket takes a few KiB at a time.
      Relay relay(fx, {Link::Unix, 0, 4096});
      std::string header = pattern(c.header, 5);
      std::string sniffed = pattern(c.sniffed, 6);
      std::string after = pattern(50000, 7);
      relay.start(header, sniffed, c.offset);
      fx.turn(200);
      // The client goes on sending while the first bytes wait, and only then does the backend
      // make room: the client's readable edge is told before the backend's writable one.
      relay.client.send(after);
      relay.backend.pull();
      CHECK(relay.backend.received.size() < header.size() + sniffed.size() - c.offset);  // it had to wait
      CHECK(relay.exchange_until([&] {
        return relay.backend.received.size() >= header.size() + sniffed.size() - c.offset + after.size();
      }));
      CHECK(relay.backend.received == header + sniffed.substr(c.offset) + after);
      CHECK(relay.forwarder.bytes_up() == sniffed.size() - c.offset + after.size());
      relay.forwarder.stop(CloseReason::Shutdown);
    }
    CHECK(fx.close() == 0);
  }
}

TEST_CASE("whichever side sends its FIN first, the other side's bytes still flow, and the second FIN ends the forwarding as done") {
  for (Link link : {Link::Unix, Link::Tcp}) {
    for (bool client_first : {true, false}) {
      CAPTURE(name(link));
      CAPTURE(client_first);
      LoopFixture fx;
      {
        Relay relay(fx, {link, 2});
        relay.start();
        Peer& first = client_first ? relay.client : relay.backend;
        Peer& second = client_first ? relay.backend : relay.client;
        first.send("request or banner");  // an HTTP/1.0 client, or a server that speaks first
        first.shut_write();
        CHECK(relay.exchange_until([&] { return second.eof; }));
        CHECK(second.received == "request or banner");
        std::string answer = pattern(100000, 8);  // enough to go into bulk: the pipe's way too
        second.send(answer);
        CHECK(relay.exchange_until([&] { return first.received.size() == answer.size(); }));
        CHECK(first.received == answer);
        CHECK_FALSE(first.eof);
        CHECK_FALSE(relay.ended());
        second.shut_write();
        CHECK(relay.exchange_until([&] { return relay.ended() && first.eof; }));
        CHECK(relay.owner.heard() == "done");
        CHECK(first.error == 0);
        CHECK(second.error == 0);
      }
      CHECK(fx.close() == 0);
    }
  }
}

TEST_CASE("a reset on either side is passed on to the other as a reset, and the owner hears whose it was") {
  for (bool client_resets : {true, false}) {
    CAPTURE(client_resets);
    LoopFixture fx;
    {
      Relay relay(fx, {Link::Tcp, 2});
      relay.start({}, "hello");
      relay.backend.send("partial answ");
      CHECK(relay.exchange_until([&] { return relay.backend.received == "hello" && relay.client.received == "partial answ"; }));
      Peer& resetting = client_resets ? relay.client : relay.backend;
      Peer& other = client_resets ? relay.backend : relay.client;
      resetting.reset();
      CHECK(relay.exchange_until([&] { return relay.ended() && other.error != 0; }));
      CHECK(relay.owner.heard() == (client_resets ? "client_reset ECONNRESET" : "backend_reset ECONNRESET"));
      CHECK(other.error == ECONNRESET);  // not a FIN: a truncated stream is not taken for a whole one
    }
    CHECK(fx.close() == 0);
  }
}

TEST_CASE("a side that does not read stops reads from the other, which can send no more than the sockets and one buffer or pipe hold") {
  // Fixed buffers, so that what the kernel holds is the same from one pair to the next.
  for (Shape shape : {Shape{Link::Unix, 0, 16 * 1024}, Shape{Link::Tcp, 4, 256 * 1024}}) {
    for (bool upward : {true, false}) {
      CAPTURE(name(shape.link));
      CAPTURE(upward);
      LoopFixture fx;
      {
        std::size_t held_by_kernel = 2 * held_by_one_pair(shape);  // the client's pair and the backend's
        Relay relay(fx, shape);
        KernelPipe* pipe = relay.pipes.take();  // to learn what one pipe holds; the forwarder gets it next
        std::size_t one_hold = pipe ? std::max(pipe->capacity, Relay::kBufferSize) : Relay::kBufferSize;
        if (pipe) relay.pipes.give(pipe);
        Peer& sender = upward ? relay.client : relay.backend;
        Peer& receiver = upward ? relay.backend : relay.client;
        std::string bytes = pattern(4 * (held_by_kernel + one_hold), 11);
        relay.start();
        sender.send(bytes);
        // Turn the loop until the sender has been stuck for a while: the forwarder stopped reading.
        int stuck = 0;
        CHECK(fx.turn_until([&] {
          stuck = sender.push() > 0 ? 0 : stuck + 1;
          return stuck >= 200;
        }));
        CAPTURE(sender.written);
        CAPTURE(held_by_kernel);
        CAPTURE(one_hold);
        // The kernel counts socket memory, not bytes, so how the writes were cut moves what the
        // pairs hold a little: an eighth of it is allowed for that, less than a second buffer.
        CHECK(sender.written <= held_by_kernel + held_by_kernel / 8 + one_hold);
        CHECK_FALSE(relay.ended());
        // The receiver reads again: every byte comes, in order, and the rest of the stream follows.
        CHECK(relay.exchange_until([&] { return receiver.received.size() == bytes.size(); }));
        CHECK(receiver.received == bytes);
        relay.forwarder.stop(CloseReason::Shutdown);
      }
      CHECK(fx.close() == 0);
    }
  }
}

TEST_CASE("a client that sent its request, shut down and closed before the reply ends as client_closed, not as an error") {
  LoopFixture fx;
  {
    Relay relay(fx, {Link::Tcp, 2});
    relay.start({}, "QUIT\r\n");
    relay.client.shut_write();
    relay.client.close();
    CHECK(relay.exchange_until([&] { return relay.backend.eof; }));
    CHECK(relay.backend.received == "QUIT\r\n");
    // More reply than one write: the first write draws the closed socket's RST, a later one fails.
    relay.backend.send(pattern(1024 * 1024, 12));
    CHECK(relay.exchange_until([&] { return relay.ended(); }));
    CHECK((relay.owner.heard() == "client_closed EPIPE" || relay.owner.heard() == "client_closed ECONNRESET"));
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a client that finished before the backend was reached has its FIN passed on after the sniffed bytes") {
  LoopFixture fx;
  {
    Relay relay(fx, {Link::Unix, 0});
    relay.client.send("PING\r\n");
    relay.client.shut_write();
    // What the Sniffer did: it read the bytes and the EOF before the decision.
    char sniffed[16];
    CHECK(relay.client_socket.read(sniffed, sizeof sniffed) == 6);
    CHECK(relay.client_socket.read(sniffed, sizeof sniffed) == 0);
    relay.start({}, "PING\r\n", 0, true);
    CHECK(relay.exchange_until([&] { return relay.backend.eof; }));
    CHECK(relay.backend.received == "PING\r\n");
    relay.backend.send("PONG\r\n");
    relay.backend.shut_write();
    CHECK(relay.exchange_until([&] { return relay.ended() && relay.client.eof; }));
    CHECK(relay.client.received == "PONG\r\n");
    CHECK(relay.owner.heard() == "done");
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("stopping closes both sockets with a FIN and tells the owner at once") {
  LoopFixture fx;
  {
    Relay relay(fx, {Link::Tcp, 2});
    relay.start({}, "hello");
    CHECK(relay.exchange_until([&] { return relay.backend.received == "hello"; }));
    relay.forwarder.stop(CloseReason::Shutdown);
    CHECK(relay.owner.heard() == "shutdown");
    CHECK_FALSE(relay.forwarder.is_running());
    CHECK(relay.exchange_until([&] { return relay.client.eof && relay.backend.eof; }));
    CHECK(relay.client.error == 0);
    CHECK(relay.backend.error == 0);
  }
  CHECK(fx.close() == 0);
}
