// Unit tests of Facts, the contract of facts.hpp: what is stored, what is cut, what is refused.
#include <doctest/doctest.h>

#include <string>

#include "passthru/sdk/facts.hpp"

using passthru::sdk::FactKind;
using passthru::sdk::Facts;
namespace key = passthru::sdk::fact_key;

TEST_CASE("a text fact is stored with its key, value and kind, and found by its key") {
  Facts facts;
  CHECK(facts.add(key::kSni, "a.example.com"));
  REQUIRE(facts.size() == 1);
  CHECK(std::string(facts.key(0)) == "sni");
  CHECK(facts.value(0) == "a.example.com");
  CHECK(facts.kind(0) == FactKind::Text);
  CHECK(facts.find("sni") == "a.example.com");
  CHECK(facts.find("host").empty());
}

TEST_CASE("a value is stored with its length, so an empty one and one with control bytes are kept whole") {
  Facts facts;
  CHECK(facts.add("empty", ""));
  CHECK(facts.add("note", "one\r\ntwo \"three\""));
  CHECK(facts.size() == 2);
  CHECK(facts.value(0).empty());
  CHECK(facts.value(1) == "one\r\ntwo \"three\"");
}

TEST_CASE("a value holding a NUL byte is refused and nothing is stored") {
  Facts facts;
  CHECK_FALSE(facts.add("note", std::string_view("a\0b", 3)));
  CHECK_FALSE(facts.add_wire(key::kAlpnFirst, std::string_view("h2\0", 3)));
  CHECK(facts.size() == 0);
  CHECK(facts.add("note", "ab"));
  CHECK(facts.value(0) == "ab");
}

TEST_CASE("a key that is empty, too long, or not lower-case letters, digits, '_', '-' and '.' is refused") {
  CHECK(Facts::is_key("sni"));
  CHECK(Facts::is_key("pp_unique_id"));
  CHECK(Facts::is_key("x-vendor.thing2"));
  CHECK(Facts::is_key("abcdefghijklmnopqrstuvwxyz012345"));  // 32 bytes
  CHECK_FALSE(Facts::is_key("abcdefghijklmnopqrstuvwxyz0123456"));
  CHECK_FALSE(Facts::is_key(""));
  CHECK_FALSE(Facts::is_key(nullptr));
  CHECK_FALSE(Facts::is_key("SNI"));
  CHECK_FALSE(Facts::is_key("a b"));
  CHECK_FALSE(Facts::is_key("a=b"));
  CHECK_FALSE(Facts::is_key("a\nb"));
  Facts facts;
  CHECK_FALSE(facts.add("end=done client", "x"));
  CHECK(facts.size() == 0);
}

TEST_CASE("past kMaxFacts facts an add is refused") {
  Facts facts;
  for (std::size_t i = 0; i < Facts::kMaxFacts; ++i) CHECK(facts.add("k", "v"));
  CHECK_FALSE(facts.add("k", "v"));
  CHECK_FALSE(facts.add_ambiguous(key::kHost));
  CHECK(facts.size() == Facts::kMaxFacts);
}

TEST_CASE("a text value too long for the buffer is cut short and ends in ...") {
  Facts facts;
  std::string long_value(Facts::kCapacity + 10, 'x');
  CHECK(facts.add("long", long_value));
  CHECK(facts.value(0).size() == Facts::kCapacity);
  CHECK(facts.value(0).substr(Facts::kCapacity - 4) == "x...");
  CHECK(facts.add("later", "y"));
  CHECK(facts.value(1).empty());
}

TEST_CASE("a wire value is kept exactly, and refused rather than cut when it does not fit") {
  Facts facts;
  CHECK(facts.add_wire(key::kAlpnFirst, "h\x01" "2"));
  CHECK(facts.kind(0) == FactKind::Wire);
  CHECK(facts.find(key::kAlpnFirst) == "h\x01" "2");
  CHECK(facts.add("filler", std::string(Facts::kCapacity - 5, 'x')));
  CHECK_FALSE(facts.add_wire("big", "abc"));
  CHECK(facts.add_wire("small", "ab"));
  CHECK(facts.value(2) == "ab");
}

TEST_CASE("an ambiguous fact has its key, no value, and its own kind") {
  Facts facts;
  CHECK(facts.add_ambiguous(key::kHost));
  CHECK(facts.kind(0) == FactKind::Ambiguous);
  CHECK(std::string(facts.key(0)) == "host");
  CHECK(facts.value(0).empty());
  CHECK(facts[0].kind == FactKind::Ambiguous);
}

TEST_CASE("every well-known key is a key") {
  for (const char* k : {key::kSni, key::kAlpn, key::kAlpnFirst, key::kHello, key::kHost, key::kMethod, key::kHttp,
                        key::kProxy, key::kProxyAuthority, key::kProxyAlpn, key::kProxyUniqueId, key::kSshVersion,
                        key::kSshSoftware, key::kMproxy, key::kMproxyName, key::kMproxyService,
                        key::kMproxyServicePort})
    CHECK_MESSAGE(Facts::is_key(k), k);
}
