// Unit tests of Sniffer on socket pairs: a decision on the bytes read as the client is accepted,
// on bytes that come later, at EOF, on a full buffer and at the deadline; a reset before any.
#include <doctest/doctest.h>

#include <cerrno>
#include <memory>
#include <string>

#include "loop_fixture.hpp"
#include "prefix_protocol.hpp"
#include "server/buffer_pool.hpp"
#include "server/sniffer.hpp"

using namespace passthru::core;
using namespace passthru::core::testing;

namespace {

struct SniffRecord final : Sniffer::Owner {
  void on_decided(Decision decision) override {
    ++decided;
    kind = decision.kind;
    fallback = decision.fallback;
    action = decision.action;
  }
  void on_sniff_failed(CloseReason why, int error) override { failure.hear(why, error); }
  [[nodiscard]] int calls() const { return decided + failure.times; }
  /// What the owner heard: "rule", "catchall:<fallback>", or a failure as the access log reads it.
  [[nodiscard]] std::string heard() const {
    if (calls() != 1) return std::to_string(calls()) + " calls";
    if (failure.times) return failure.text();
    return kind == Decision::Kind::Rule ? "rule" : std::string("catchall:") + to_token(fallback);
  }

  int decided = 0;
  Decision::Kind kind = Decision::Kind::Pending;
  FallbackReason fallback = FallbackReason::NoProtocol;
  const Action* action = nullptr;
  HeardEnd failure;
};

/// A listener whose one protocol matches clients that start with `prefix`; the rest fall to
/// its CATCHALL. It buffers at most `max_sniff_bytes`.
ServerConfig server_for(std::string prefix, std::uint32_t max_sniff_bytes = 1024) {
  ServerConfig server;
  Action forward;
  forward.kind = ActionKind::Forward;
  forward.rule = prefix;
  server.protocols.push_back({prefix, std::make_shared<PrefixProtocol>(prefix), {forward}});
  Action reject;
  reject.rule = "CATCHALL";
  server.catchall = reject;
  server.max_sniff_bytes = max_sniff_bytes;
  return server;
}

/// A Sniffer on the stage's end of a socket pair; `client` is the test's end.
struct Sniff {
  Sniff(LoopFixture& fixture, ServerConfig config, FdPair pair)
      : fx(fixture),
        server(std::move(config)),
        sniff_pool(server.max_sniff_bytes, 1),
        lifetime(fixture),
        sniffer(owner, server, sniff_pool, lifetime.deadline),
        client(pair.peer),
        accepted(pair.stage) {}

  /// Hands the sniffer its client, as the worker does once it has accepted it.
  void start() { sniffer.start(Socket(fx.events(), accepted), nullptr); }

  /// What the sniffer read, as text (taken from it).
  std::string bytes() {
    ConnBuf taken = sniffer.take_bytes();
    return std::string(passthru::sdk::as_chars(taken.bytes()));
  }

  /// Closes the client's socket and what the connection lent: the loop may close after.
  bool end() {
    sniffer.close();
    return lifetime.end();
  }

  LoopFixture& fx;
  ServerConfig server;
  BufferPool sniff_pool;
  Lifetime lifetime;
  SniffRecord owner;
  Sniffer sniffer;
  Peer client;
  int accepted;
};

}  // namespace

TEST_CASE("bytes the client sent before it was accepted are decided on at once, without watching its socket") {
  LoopFixture fx;
  {
    Sniff sniff(fx, server_for("HELLO"), unix_pair());
    sniff.client.send("HELLO world");
    sniff.start();
    CHECK(sniff.owner.heard() == "rule");  // before the loop turned once
    CHECK(sniff.owner.action == &sniff.server.protocols[0].actions[0]);
    CHECK(sniff.bytes() == "HELLO world");
    CHECK_FALSE(sniff.sniffer.client_finished());
    Socket client = sniff.sniffer.take_client();
    CHECK(client.is_open());
    CHECK_FALSE(client.is_watched());  // the next stage watches it
    client.close();
    CHECK(sniff.end());
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("bytes that come later are read at the socket's readable edges until a decision") {
  LoopFixture fx;
  {
    Sniff sniff(fx, server_for("HELLO"), unix_pair());
    sniff.start();
    CHECK(sniff.owner.calls() == 0);
    sniff.client.send("HEL");
    fx.turn(100);
    CHECK(sniff.owner.calls() == 0);  // the protocol asked for five bytes
    sniff.client.send("LO, and more");
    CHECK(fx.turn_until([&] { return sniff.owner.calls() > 0; }));
    CHECK(sniff.owner.heard() == "rule");
    CHECK(sniff.bytes() == "HELLO, and more");
    CHECK(sniff.sniffer.take_client().is_watched());
    CHECK(sniff.end());
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("an EOF before a decision ends sniffing with the server CATCHALL, and the client counts as finished") {
  LoopFixture fx;
  {
    Sniff sniff(fx, server_for("HELLO"), unix_pair());
    sniff.client.send("HE");
    sniff.client.shut_write();
    sniff.start();
    CHECK(fx.turn_until([&] { return sniff.owner.calls() > 0; }));
    CHECK(sniff.owner.heard() == "catchall:client_eof");
    CHECK(sniff.owner.action == &*sniff.server.catchall);
    CHECK(sniff.sniffer.client_finished());
    CHECK(sniff.bytes() == "HE");
    CHECK(sniff.end());
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a full buffer before a decision ends sniffing with the server CATCHALL") {
  LoopFixture fx;
  {
    Sniff sniff(fx, server_for("HELLO, WORLD", 8), unix_pair());
    sniff.client.send("HELLO, WORLD");
    sniff.start();
    CHECK(fx.turn_until([&] { return sniff.owner.calls() > 0; }));
    CHECK(sniff.owner.heard() == "catchall:buffer_full");
    CHECK(sniff.bytes() == "HELLO, W");  // the rest waits in the socket for the next stage
    CHECK(sniff.end());
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a silent client gets the server CATCHALL once the detection deadline passes") {
  LoopFixture fx;
  {
    ServerConfig server = server_for("HELLO");
    server.timeout_ms = 20;
    Sniff sniff(fx, std::move(server), unix_pair());
    sniff.start();
    CHECK(fx.wait_until([&] { return sniff.owner.calls() > 0; }));
    CHECK(sniff.owner.heard() == "catchall:timeout");
    CHECK(sniff.bytes().empty());
    CHECK(sniff.end());
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a client's reset before a decision is a sniff failure, and its socket stays open for the owner to close") {
  LoopFixture fx;
  {
    Sniff sniff(fx, server_for("HELLO"), tcp_pair());
    sniff.client.send("HEL");
    sniff.start();
    fx.turn(10);
    sniff.client.reset();
    CHECK(fx.turn_until([&] { return sniff.owner.calls() > 0; }));
    fx.turn(100);  // and nothing after it, though the socket stays open
    CHECK(sniff.owner.heard() == "client_reset ECONNRESET");
    CHECK(sniff.sniffer.take_client().is_open());
    CHECK(sniff.end());
  }
  CHECK(fx.close() == 0);
}
