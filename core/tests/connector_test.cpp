// Unit tests of Connector on loopback: a connected socket handed over, a refused port, a name
// that does not resolve, a connect that times out, and cancel() while resolving or connecting.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "loop_fixture.hpp"
#include "server/connector.hpp"

using namespace passthru::core;
using namespace passthru::core::testing;

namespace {

struct ConnectRecord final : Connector::Owner {
  void on_connected(Socket socket) override {
    ++connected;
    backend = std::move(socket);
  }
  void on_connect_failed(CloseReason why, int error) override { failure.hear(why, error); }
  [[nodiscard]] int calls() const { return connected + failure.times; }
  /// What the owner heard: "connected", or the end as the access log reads it ("connect_failed ECONNREFUSED").
  [[nodiscard]] std::string heard() const {
    if (calls() != 1) return std::to_string(calls()) + " calls";
    return connected ? "connected" : failure.text();
  }

  Socket backend;
  int connected = 0;
  HeardEnd failure;
};

/// A Connector with what a connection lends it.
struct Dial {
  explicit Dial(LoopFixture& fx) : lifetime(fx), connector(owner, fx.loop(), fx.events(), lifetime.deadline, lifetime.lifeline) {}

  Lifetime lifetime;
  ConnectRecord owner;
  Connector connector;
};

/// A port whose one-connection queue (backlog 0) is full and never accepted from: the kernel
/// drops further SYNs, so a connect there waits, on loopback, until its timeout.
struct FullBacklog {
  FullBacklog() : port(0), filler(port.connect_to()) {}
  ~FullBacklog() { close(filler); }

  LoopbackPort port;
  int filler;
};

/// A name resolution that fails without asking a name server: a label longer than the 63
/// octets DNS allows (RFC 1035 §2.3.4) is refused by the resolver itself, so no query leaves the
/// machine and the answer does not depend on one. (The config parser refuses such a name too,
/// which is why the Endpoint is made here by hand.)
Endpoint unresolvable() {
  Endpoint to;
  to.host = std::string(64, 'a') + ".invalid";
  to.port = 443;
  return to;
}

/// "localhost": a name, so resolved on the thread pool, that /etc/hosts answers.
Endpoint localhost(std::uint16_t port) {
  std::string error;
  auto to = parse_endpoint("localhost:" + std::to_string(port), true, PortRule::NonZero, error);
  REQUIRE(to);
  return *to;
}

/// Connects to `to`, waits for the owner to hear, lets the connection go, and says what it heard.
std::string outcome_of_connect(LoopFixture& fx, const Endpoint& to, std::uint32_t timeout_ms) {
  Dial dial(fx);
  dial.connector.connect(to, timeout_ms);
  fx.wait_until([&] { return dial.owner.calls() > 0; });
  dial.owner.backend.close();
  CHECK(dial.lifetime.end());
  return dial.owner.heard();
}

}  // namespace

TEST_CASE("a connect to a loopback listener hands over a connected, watched socket with TCP_NODELAY") {
  LoopFixture fx;
  {
    LoopbackPort listener(8);
    Endpoint to = listener.endpoint();
    Dial dial(fx);
    dial.connector.connect(to, 5000);
    CHECK(fx.turn_until([&] { return dial.owner.calls() > 0; }));
    REQUIRE(dial.owner.heard() == "connected");
    Socket& backend = dial.owner.backend;
    CHECK(backend.is_open());
    CHECK(backend.is_watched());
    CHECK(backend.may_write());
    int no_delay = 0;
    socklen_t length = sizeof no_delay;
    getsockopt(backend.fd(), IPPROTO_TCP, TCP_NODELAY, &no_delay, &length);
    CHECK(no_delay == 1);
    int accepted = accept(listener.fd(), nullptr, nullptr);
    CHECK(accepted >= 0);
    CHECK(backend.write("ok", 2) == 2);
    char got[2] = {};
    CHECK(read(accepted, got, 2) == 2);
    CHECK(std::string(got, 2) == "ok");
    close(accepted);
    backend.close();
    CHECK(dial.lifetime.end());
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a host name is resolved on the thread pool, then its address connected") {
  LoopFixture fx;
  {
    LoopbackPort listener(8);
    Endpoint to = localhost(listener.port());
    Dial dial(fx);
    dial.connector.connect(to, 5000);
    CHECK(dial.owner.calls() == 0);  // the answer comes from another thread, never at once
    CHECK(fx.wait_until([&] { return dial.owner.calls() > 0; }));
    CHECK(dial.owner.heard() == "connected");
    dial.owner.backend.close();
    CHECK(dial.lifetime.end());
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a refused port ends with connect_failed and ECONNREFUSED") {
  LoopFixture fx;
  {
    LoopbackPort bound_only(std::nullopt);  // bound, so the port is ours, but nothing listens
    CHECK(outcome_of_connect(fx, bound_only.endpoint(), 5000) == "connect_failed ECONNREFUSED");
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a name that does not resolve ends with resolve_failed") {
  LoopFixture fx;
  CHECK(outcome_of_connect(fx, unresolvable(), 5000).starts_with("resolve_failed EAI_"));  // getaddrinfo's own answer
  CHECK(fx.close() == 0);
}

TEST_CASE("a backend that does not accept in time ends with connect_timeout") {
  LoopFixture fx;
  {
    FullBacklog full;
    CHECK(outcome_of_connect(fx, full.port.endpoint(), 50) == "connect_timeout ETIMEDOUT");
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("cancel() during a resolve: the owner hears nothing, and the Lifeline lets go only once the resolve called back") {
  LoopFixture fx;
  {
    Endpoint to = localhost(9);
    Dial dial(fx);
    dial.connector.connect(to, 5000);
    dial.connector.cancel();
    dial.lifetime.deadline.close();
    dial.lifetime.lifeline.let_go();
    CHECK_FALSE(dial.lifetime.released());  // the request's memory is still the thread pool's
    CHECK(fx.wait_until([&] { return dial.lifetime.released(); }));
    CHECK(dial.owner.calls() == 0);
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("cancel() while connecting: the owner hears nothing more, even once the timeout has passed") {
  LoopFixture fx;
  {
    FullBacklog full;
    Endpoint to = full.port.endpoint();
    Dial dial(fx);
    dial.connector.connect(to, 20);
    fx.turn(10);
    dial.connector.cancel();
    fx.wait_for(100);  // the deadline is the owner's and stays open: only the connector's use of it ends
    CHECK(dial.owner.calls() == 0);
    CHECK(dial.lifetime.end());
  }
  CHECK(fx.close() == 0);
}
