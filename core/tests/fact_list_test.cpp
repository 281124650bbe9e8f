// Unit tests of FactList: each fact listed once, in the detector's order, with its kind; the
// well-known facts the core reads (authority, first ALPN) read by meaning; the log's form.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "router/fact_list.hpp"

using namespace passthru;
using namespace passthru::core;
namespace key = passthru::sdk::fact_key;
using passthru::sdk::FactKind;

namespace {

using Listed = std::vector<std::tuple<std::string, std::string, FactKind>>;

/// Every fact for_each gives; it stops a list that never ends instead of hanging.
Listed listed(const FactList& list) {
  Listed out;
  list.for_each([&](const sdk::Fact& fact) {
    if (out.size() > 16) throw std::runtime_error("for_each gave more facts than were added");
    out.emplace_back(fact.key, fact.value, fact.kind);
  });
  return out;
}

}  // namespace

TEST_CASE("every fact is listed once, in the detector's order, with its value and kind as given") {
  sdk::Facts facts;
  facts.add(key::kSni, "a.example.com");
  facts.add(key::kAlpn, "h2,http/1.1");
  facts.add_wire(key::kAlpnFirst, "h2");
  facts.add_ambiguous(key::kHost);
  FactList list(facts);
  CHECK(listed(list) == Listed{{"sni", "a.example.com", FactKind::Text},
                               {"alpn", "h2,http/1.1", FactKind::Text},
                               {"alpn_first", "h2", FactKind::Wire},
                               {"host", "", FactKind::Ambiguous}});
  CHECK(list.find(key::kAlpn) == "h2,http/1.1");
  CHECK(list.find("missing").empty());
}

TEST_CASE("a list made from no facts lists nothing") {
  CHECK(listed(FactList()).empty());
  CHECK(listed(FactList(sdk::Facts())).empty());
}

TEST_CASE("a fact whose value holds a NUL byte is refused, and the facts around it are listed once each") {
  sdk::Facts facts;
  facts.add("before", "kept");
  CHECK_FALSE(facts.add("note", std::string_view("a\0b", 3)));
  CHECK_FALSE(facts.add_wire("wire", std::string_view("\0", 1)));
  facts.add("after", "kept");
  CHECK(listed(FactList(facts)) == Listed{{"before", "kept", FactKind::Text}, {"after", "kept", FactKind::Text}});
  CHECK(FactList(facts).find("after") == "kept");
}

TEST_CASE("the authority is the SNI, else the Host, and never an ambiguous Host") {
  sdk::Facts tls;
  tls.add(key::kSni, "a.example.com");
  CHECK(FactList(tls).authority() == "a.example.com");
  sdk::Facts http;
  http.add(key::kMethod, "GET");
  http.add(key::kHost, "b.example.com");
  CHECK(FactList(http).authority() == "b.example.com");
  sdk::Facts ambiguous;
  ambiguous.add(key::kMethod, "GET");
  ambiguous.add_ambiguous(key::kHost);
  CHECK(FactList(ambiguous).authority().empty());
  CHECK(FactList().authority().empty());
}

TEST_CASE("the first ALPN protocol is the wire value exactly as offered, not the list cleaned for the log") {
  sdk::Facts facts;
  facts.add(key::kAlpn, "h?2,http/1.1");
  facts.add_wire(key::kAlpnFirst, "h\x01" "2");
  CHECK(FactList(facts).alpn_first() == "h\x01" "2");
  CHECK(FactList().alpn_first().empty());
}
