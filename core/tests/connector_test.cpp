// Unit tests of Connector on loopback: a connected socket handed over, a refused port, a name
// that does not resolve, a connect that times out, and cancel() while resolving or connecting;
// and connecting from a given source (transparent mode's source = "client" and "client_port"),
// which needs CAP_NET_ADMIN, as root has: from other loopback addresses, which are this host's
// own, so no routing is needed for the replies.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <arpa/inet.h>
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

/// A loopback source address for ConnectFrom: 127.0.0.x, port `port`.
IpAddress loopback_source(const char* ip, std::uint16_t port) {
  IpAddress address;
  address.v4.sin_family = AF_INET;
  address.v4.sin_port = htons(port);
  inet_pton(AF_INET, ip, &address.v4.sin_addr);
  return address;
}

/// Connects to `listener` from `from`, accepts, and returns the peer's address as the
/// listener saw it ("127.0.0.2:40000"), or what the owner heard if it was not connected.
std::string peer_seen(LoopFixture& fx, LoopbackPort& listener, ConnectFrom from) {
  Endpoint to = listener.endpoint();
  Dial dial(fx);
  dial.connector.connect(to, 5000, from);
  fx.wait_until([&] { return dial.owner.calls() > 0; });
  std::string seen = dial.owner.heard();
  if (seen == "connected") {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    int accepted = accept(listener.fd(), reinterpret_cast<sockaddr*>(&peer), &length);
    seen = accepted >= 0 ? format_address(reinterpret_cast<sockaddr*>(&peer)) : "not accepted";
    if (accepted >= 0) close(accepted);
  }
  dial.owner.backend.close();
  CHECK(dial.lifetime.end());
  return seen;
}

void require_net_admin() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  bool allowed = setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof on) == 0;
  close(fd);
  REQUIRE_MESSAGE(allowed, "these tests need CAP_NET_ADMIN for IP_TRANSPARENT: run them as root");
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

TEST_CASE("source client_port: the backend sees the client's address and port") {
  require_net_admin();
  LoopFixture fx;
  {
    LoopbackPort listener(8);
    LoopbackPort taken(std::nullopt);  // a port no one else has now, bound on 127.0.0.1 only
    IpAddress client = loopback_source("127.0.0.2", taken.port());
    CHECK(peer_seen(fx, listener, {client.get(), true}) == "127.0.0.2:" + std::to_string(taken.port()));
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("source client: the backend sees the client's address, from a port the kernel picked") {
  require_net_admin();
  LoopFixture fx;
  {
    LoopbackPort listener(8);
    IpAddress client = loopback_source("127.0.0.3", 40000);
    std::string seen = peer_seen(fx, listener, {client.get(), false});
    CHECK(seen.starts_with("127.0.0.3:"));
    CHECK(seen != "127.0.0.3:40000");  // the client's port stays the client's
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a client address and port already in use here ends with source_refused EADDRINUSE") {
  require_net_admin();
  LoopFixture fx;
  {
    LoopbackPort listener(8);
    // The client's own socket on this host (the same-host limitation): its pair is taken.
    int own = socket(AF_INET, SOCK_STREAM, 0);
    IpAddress client = loopback_source("127.0.0.4", 0);
    REQUIRE(bind(own, client.get(), sizeof client.v4) == 0);
    socklen_t length = sizeof client.v4;
    getsockname(own, client.get(), &length);
    CHECK(peer_seen(fx, listener, {client.get(), true}) == "source_refused EADDRINUSE");
    close(own);
  }
  CHECK(fx.close() == 0);
}

TEST_CASE("a client of the other family than the target ends with source_refused EAFNOSUPPORT") {
  LoopFixture fx;
  {
    LoopbackPort listener(8);
    IpAddress client;
    client.v6.sin6_family = AF_INET6;
    client.v6.sin6_addr = in6addr_loopback;
    CHECK(peer_seen(fx, listener, {client.get(), false}) == "source_refused EAFNOSUPPORT");
  }
  CHECK(fx.close() == 0);
}
