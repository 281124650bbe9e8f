// Unit tests of rule_key.hpp: split_rule_key's one shape, and read_rule_keys handing each
// matcher's key to the plugin and refusing every other key in one shape, with its position.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "passthru/sdk/rule_key.hpp"

using namespace passthru::sdk;

namespace {

constexpr std::string_view kMatchers[] = {"SNI", "ALPN"};
constexpr std::string_view kAlone[] = {"H2C"};
constexpr RuleKeySyntax kSyntax{.protocol = "DEMO", .matchers = kMatchers, .alone = kAlone,
                                .forms = "'SNI name', 'ALPN protocol', 'H2C'"};
constexpr const char* kForms = "; DEMO rule keys are 'SNI name', 'ALPN protocol', 'H2C' or 'CATCHALL'";

struct Handed {
  std::uint32_t index;
  std::string matcher;
  std::string value;
  bool operator==(const Handed&) const = default;
};

struct Read {
  std::optional<std::uint32_t> catchall;
  std::vector<Handed> handed;
  Diagnostics diagnostics;
};

/// Key i stands at line i + 1, column 3.
Read read(const std::vector<std::string>& texts) {
  std::vector<RuleKey> keys;
  for (std::size_t i = 0; i < texts.size(); ++i) keys.push_back({texts[i], {static_cast<std::uint32_t>(i + 1), 3}});
  Read out;
  out.catchall = read_rule_keys(keys, kSyntax, out.diagnostics, [&](const MatcherKey& key) {
    out.handed.push_back({key.index, std::string(key.matcher), std::string(key.value)});
  });
  return out;
}

std::string only_message(const Read& r) {
  REQUIRE(r.diagnostics.all().size() == 1);
  return r.diagnostics.all()[0].message;
}

}  // namespace

TEST_CASE("split_rule_key takes exactly one space between a matcher and a value, both non-empty") {
  auto parts = split_rule_key("SNI example.com");
  REQUIRE(parts);
  CHECK(parts->matcher == "SNI");
  CHECK(parts->value == "example.com");
  for (const char* bad : {"SNI", "SNI ", " SNI", "SNI a b", "SNI  a", ""}) CHECK_MESSAGE(!split_rule_key(bad), bad);
}

TEST_CASE("each key naming a matcher is handed over in order with its index, matcher and value") {
  Read r = read({"ALPN h2", "SNI a.example.com", "H2C"});
  CHECK(r.diagnostics.empty());
  CHECK(r.handed == std::vector<Handed>{{0, "ALPN", "h2"}, {1, "SNI", "a.example.com"}, {2, "H2C", ""}});
  CHECK_FALSE(r.catchall);
}

TEST_CASE("CATCHALL is not handed over: its index is returned") {
  Read r = read({"SNI a.example.com", "CATCHALL"});
  CHECK(r.catchall == 1u);
  CHECK(r.handed.size() == 1);
}

TEST_CASE("a matcher without its value is refused, saying it needs one") {
  CHECK(only_message(read({"SNI"})) == std::string("rule key 'SNI': SNI needs a value") + kForms);
}

TEST_CASE("a key not of the form 'MATCHER value' is refused with every form the table takes") {
  for (const char* bad : {"SNI a b", "example.com", "catchall", "SNI  a"})
    CHECK(only_message(read({bad})) == "rule key '" + std::string(bad) + "': not of the form 'MATCHER value'" + kForms);
}

TEST_CASE("a matcher the table does not have is refused, naming it") {
  CHECK(only_message(read({"HOST a.example.com"})) ==
        std::string("rule key 'HOST a.example.com': unknown matcher 'HOST'") + kForms);
  CHECK(only_message(read({"sni a.example.com"})) ==
        std::string("rule key 'sni a.example.com': unknown matcher 'sni'") + kForms);
}

TEST_CASE("a value after a matcher written alone is refused") {
  CHECK(only_message(read({"H2C yes"})) == std::string("rule key 'H2C yes': H2C takes no value") + kForms);
}

TEST_CASE("every key is read: refusals do not stop the ones after them, and each has its key's position") {
  Read r = read({"HOST a", "SNI a.example.com", "SNI", "CATCHALL", "ALPN h2"});
  REQUIRE(r.diagnostics.all().size() == 2);
  CHECK(r.diagnostics.all()[0].where.line == 1);
  CHECK(r.diagnostics.all()[1].where.line == 3);
  CHECK(r.diagnostics.all()[1].where.column == 3);
  CHECK(r.handed == std::vector<Handed>{{1, "SNI", "a.example.com"}, {4, "ALPN", "h2"}});
  CHECK(r.catchall == 3u);
}

TEST_CASE("a plugin's own refusal has the same shape and the key's position") {
  std::vector<RuleKey> keys{{"SNI a..b", {7, 1}}};
  Diagnostics diagnostics;
  read_rule_keys(keys, kSyntax, diagnostics, [](const MatcherKey& key) { key.refuse("an empty label"); });
  REQUIRE(diagnostics.all().size() == 1);
  CHECK(diagnostics.all()[0].message == "rule key 'SNI a..b': an empty label");
  CHECK(diagnostics.all()[0].where.line == 7);
}
