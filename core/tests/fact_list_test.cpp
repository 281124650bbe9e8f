// Unit tests of FactList: each fact listed once, in the detector's order, whatever bytes its
// value holds.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "router/fact_list.hpp"

using namespace passthru;
using namespace passthru::core;

namespace {

using Listed = std::vector<std::pair<std::string, std::string>>;

/// Every (key, value) for_each gives; it stops a list that never ends instead of hanging.
Listed listed(const FactList& list) {
  Listed out;
  list.for_each([&](std::string_view key, std::string_view value) {
    if (out.size() > 16) throw std::runtime_error("for_each gave more facts than were added");
    out.emplace_back(key, value);
  });
  return out;
}

}  // namespace

TEST_CASE("every fact is listed once, in the detector's order, with its value as given") {
  sdk::Facts facts;
  facts.add("sni", "a.example.com");
  facts.add("alpn", "h2,http/1.1");
  facts.add("empty", "");
  FactList list(facts);
  CHECK(listed(list) == Listed{{"sni", "a.example.com"}, {"alpn", "h2,http/1.1"}, {"empty", ""}});
  CHECK(list.find("alpn") == "h2,http/1.1");
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
  facts.add("after", "kept");
  CHECK(listed(FactList(facts)) == Listed{{"before", "kept"}, {"after", "kept"}});
  CHECK(FactList(facts).find("after") == "kept");
}
