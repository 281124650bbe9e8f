// Unit tests of routing.hpp: address prefixes and client conditions, and the choices of a
// BackendPool (round robin, least connections, source hash; passive health).
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <map>
#include <set>

#include "config/backend_pool.hpp"
#include "config/client_condition.hpp"
#include "config/name_target.hpp"

using namespace passthru::core;

namespace {

IpAddress address(const char* text) {
  std::string why;
  auto endpoint = parse_endpoint(text, false, PortRule::AllowZero, why);
  REQUIRE(endpoint);
  return IpAddress::from(endpoint->address);
}

Prefix prefix(const char* text) {
  std::string why;
  auto p = parse_prefix(text, why);
  REQUIRE_MESSAGE(p, why);
  return *p;
}

std::vector<Endpoint> backends(int count) {
  std::vector<Endpoint> out;
  std::string why;
  for (int i = 0; i < count; ++i) out.push_back(*parse_endpoint("127.0.0.1:" + std::to_string(9000 + i), true, PortRule::NonZero, why));
  return out;
}

}  // namespace

TEST_CASE("a prefix holds the addresses under it, IPv4-mapped IPv6 ones as IPv4") {
  Prefix ten = prefix("10.0.0.0/8");
  CHECK(ten.contains(address("10.200.1.2:1").get()));
  CHECK_FALSE(ten.contains(address("11.0.0.1:1").get()));
  CHECK(ten.contains(address("[::ffff:10.1.2.3]:1").get()));
  Prefix odd = prefix("192.168.4.0/22");
  CHECK(odd.contains(address("192.168.7.255:1").get()));
  CHECK_FALSE(odd.contains(address("192.168.8.0:1").get()));
  Prefix doc = prefix("2001:db8::/32");
  CHECK(doc.contains(address("[2001:db8:1::5]:1").get()));
  CHECK_FALSE(doc.contains(address("10.0.0.1:1").get()));
  CHECK(prefix("127.0.0.2").contains(address("127.0.0.2:5").get()));
  CHECK_FALSE(prefix("127.0.0.2").contains(address("127.0.0.3:5").get()));
  CHECK(prefix("0.0.0.0/0").contains(address("8.8.8.8:1").get()));
}

TEST_CASE("prefixes with host bits, long lengths or no address are refused") {
  std::string why;
  CHECK_FALSE(parse_prefix("10.0.0.1/8", why));
  CHECK_FALSE(parse_prefix("10.0.0.0/33", why));
  CHECK_FALSE(parse_prefix("::/129", why));
  CHECK_FALSE(parse_prefix("example.com", why));
  CHECK_FALSE(parse_prefix("10.0.0.0/", why));
}

TEST_CASE("not_from wins over from; an empty condition admits anyone") {
  ClientCondition c;
  CHECK(c.admits(address("1.2.3.4:1").get()));
  c.from = {prefix("10.0.0.0/8")};
  c.not_from = {prefix("10.9.0.0/16")};
  CHECK(c.admits(address("10.1.0.1:1").get()));
  CHECK_FALSE(c.admits(address("10.9.0.1:1").get()));
  CHECK_FALSE(c.admits(address("11.0.0.1:1").get()));
  CHECK_FALSE(c.admits(nullptr));
}

TEST_CASE("round robin takes each backend in turn and skips one that is down") {
  BackendPool pool(backends(3), Balance::RoundRobin, 1000);
  std::vector<int> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(pool.pick(nullptr, 0, 0));
  CHECK(picks == std::vector<int>{0, 1, 2, 0, 1, 2});
  pool.mark_down(1, 0);
  for (int i = 0; i < 6; ++i) CHECK(pool.pick(nullptr, 500, 0) != 1);
  CHECK(pool.is_down(1, 999));
  CHECK_FALSE(pool.is_down(1, 1000));  // down_ms later it is back
}

TEST_CASE("a connection's tried backends are left out, and a down one is tried when nothing else is left") {
  BackendPool pool(backends(3), Balance::RoundRobin, 1000);
  pool.mark_down(0, 0);
  pool.mark_down(2, 10);
  CHECK(pool.pick(nullptr, 20, 0b010) == 0);  // both untried are down: the one back first
  CHECK(pool.pick(nullptr, 20, 0b111) == BackendPool::kNone);
  pool.connected(0);
  CHECK_FALSE(pool.is_down(0, 20));  // a connect that worked brings it back at once
}

TEST_CASE("least_conn picks the backend holding fewest connections") {
  BackendPool pool(backends(3), Balance::LeastConn, 1000);
  pool.connected(0);
  pool.connected(0);
  pool.connected(1);
  CHECK(pool.pick(nullptr, 0, 0) == 2);
  pool.connected(2);
  pool.connected(2);
  CHECK(pool.pick(nullptr, 0, 0) == 1);
  pool.released(0);
  pool.released(0);
  CHECK(pool.pick(nullptr, 0, 0) == 0);
  CHECK(pool.active(0) == 0);
}

TEST_CASE("source_hash keeps an address on one backend, spreads addresses, and moves only a down backend's") {
  BackendPool pool(backends(4), Balance::SourceHash, 1000);
  std::map<std::string, int> first;
  std::set<int> used;
  for (int i = 1; i <= 64; ++i) {
    std::string text = "10.0.0." + std::to_string(i) + ":1";
    IpAddress client = address(text.c_str());
    int pick = pool.pick(client.get(), 0, 0);
    CHECK(pool.pick(client.get(), 0, 0) == pick);
    first[text] = pick;
    used.insert(pick);
  }
  CHECK(used.size() == 4);
  // The same weights on every run: a fixed address has a fixed backend.
  CHECK(source_weight(address("10.0.0.1:1").get(), 0) == source_weight(address("10.0.0.1:9").get(), 0));
  pool.mark_down(2, 0);
  for (const auto& [text, pick] : first) {
    IpAddress client = address(text.c_str());
    int now = pool.pick(client.get(), 1, 0);
    if (pick != 2) CHECK(now == pick);  // clients of the other backends stay where they were
    else CHECK(now != 2);
  }
}

TEST_CASE("a name-built target takes a plausible host name, lower-cased, within its allow list") {
  CHECK(target_host("WWW.Example.NET.", nullptr) == "www.example.net");
  CHECK_FALSE(target_host("", nullptr));
  CHECK_FALSE(target_host("a..b", nullptr));
  CHECK_FALSE(target_host("evil.com/x", nullptr));
  CHECK_FALSE(target_host("[::1]", nullptr));
  CHECK_FALSE(target_host(std::string(254, 'a'), nullptr));
  NameAllow allow;
  allow.names = {".example.net", "exact.example.org"};
  allow.addresses = {prefix("10.0.0.0/8")};
  CHECK(target_host("example.net", &allow));
  CHECK(target_host("a.b.example.net", &allow));
  CHECK_FALSE(target_host("badexample.net", &allow));
  CHECK(target_host("exact.example.org", &allow));
  CHECK_FALSE(target_host("sub.exact.example.org", &allow));
  CHECK(target_host("192.0.2.1", &allow));  // an address: for the prefixes to judge
  CHECK_FALSE(allow.allows_address(address("192.0.2.1:443").get()));
  CHECK(allow.allows_address(address("10.9.9.9:443").get()));
}
