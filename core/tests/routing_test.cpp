// Unit tests of the choices of a BackendPool (round robin, least connections, source hash; passive health).
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <map>
#include <set>

#include "config/backend_pool.hpp"

using namespace passthru::core;

namespace {

IpAddress address(const char* text) {
  std::string why;
  auto endpoint = parse_endpoint(text, false, PortRule::AllowZero, why);
  REQUIRE(endpoint);
  return IpAddress::from(endpoint->address);
}

std::vector<Endpoint> backends(int count) {
  std::vector<Endpoint> out;
  std::string why;
  for (int i = 0; i < count; ++i) out.push_back(*parse_endpoint("127.0.0.1:" + std::to_string(9000 + i), true, PortRule::NonZero, why));
  return out;
}

}  // namespace

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
