// Unit tests of translate_go_config: the TOML a passthru (Go) JSON config stands for, the way
// back from that TOML's positions to the JSON's, and the notes where passthru's rules decide.
#include <doctest/doctest.h>

#include <toml++/toml.h>

#include "config/go_config.hpp"

using namespace passthru::core;
using passthru::sdk::SourcePosition;

namespace {

/// The Go project's README example, with the rule order it documents.
constexpr std::string_view kReadmeExample = R"({ "version": "v0.2.0",
  "servers": { "127.0.0.1:443": {
      "TLS": { "SNI gaukas.wang":   { "action": "FORWARD", "to_addr": "185.199.111.153:443" },
               "SNI google.com":    { "action": "FORWARD", "to_addr": "142.250.72.46:443" },
               "CATCHALL":          { "action": "REJECT" } },
      "CATCHALL": { "CATCHALL": { "action": "FORWARD", "to_addr": "neverssl.com:80" } } } } }
)";

/// Where `needle` first stands in `text`, as line and column.
SourcePosition position_in(std::string_view text, std::string_view needle) {
  auto offset = text.find(needle);
  REQUIRE(offset != std::string_view::npos);
  SourcePosition p{1, 1};
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') ++p.line, p.column = 1;
    else ++p.column;
  }
  return p;
}

GoConfigTranslation translate(std::string_view json) {
  std::vector<JsonDiagnostic> errors;
  auto out = translate_go_config(json, "go.json", errors);
  for (const auto& e : errors) FAIL_CHECK(e.message);
  REQUIRE(out);
  return std::move(*out);
}

std::vector<JsonDiagnostic> errors_of(std::string_view json) {
  std::vector<JsonDiagnostic> errors;
  CHECK_FALSE(translate_go_config(json, "go.json", errors));
  return errors;
}

bool same(SourcePosition a, SourcePosition b) { return a.line == b.line && a.column == b.column; }

}  // namespace

TEST_CASE("the README example becomes passthru's TOML, each note a comment") {
  auto out = translate(kReadmeExample);
  CHECK(out.toml ==
        "# passthru config converted from go.json, a passthru (Go) config (version v0.2.0).\n"
        "# Each note says where passthru's documented rules decide what passthru (Go) left open or did otherwise.\n"
        "\n"
        "# note: passthru (Go) tried these rules in no fixed order (CATCHALL last); passthru ranks them the same "
        "whatever their order: exact SNI, then the longest wildcard, then ALPN, then CATCHALL\n"
        "[servers.\"127.0.0.1:443\".TLS]\n"
        "\"SNI gaukas.wang\" = { action = \"FORWARD\", to_addr = \"185.199.111.153:443\" }\n"
        "\"SNI google.com\" = { action = \"FORWARD\", to_addr = \"142.250.72.46:443\" }\n"
        "CATCHALL = { action = \"REJECT\" }\n"
        "\n"
        "# note: passthru (Go) had no protocol named CATCHALL and never applied this table; passthru applies it to "
        "each connection no protocol claims, once every protocol has said no or timeout_ms (-t) has passed\n"
        "[servers.\"127.0.0.1:443\".CATCHALL]\n"
        "CATCHALL = { action = \"FORWARD\", to_addr = \"neverssl.com:80\" }\n");
  REQUIRE(out.notes.size() == 2);
  CHECK(same(out.notes[0].where, position_in(kReadmeExample, "\"TLS\"")));
  CHECK(same(out.notes[1].where, position_in(kReadmeExample, "\"CATCHALL\": {")));
}

TEST_CASE("every key and value toml++ reads maps back to where the JSON wrote it") {
  auto out = translate(kReadmeExample);
  auto root = toml::parse(std::string_view(out.toml), std::string_view("go.json"));
  const auto& server = *root["servers"]["127.0.0.1:443"].as_table();
  const auto& tls = *server["TLS"].as_table();
  for (const auto& [key, rule] : tls) {
    CAPTURE(key.str());
    CHECK(same(out.positions.json_position({key.source().begin.line, key.source().begin.column}),
               position_in(kReadmeExample, "\"" + std::string(key.str()) + "\"")));
    const auto& to_addr_or_action = *rule.as_table()->get("action");
    CHECK(out.positions.json_position({to_addr_or_action.source().begin.line, to_addr_or_action.source().begin.column})
              .line == position_in(kReadmeExample, "\"" + std::string(key.str()) + "\"").line);
  }
  const auto* google = tls.get("SNI google.com")->as_table()->get("to_addr");
  CHECK(same(out.positions.json_position({google->source().begin.line, google->source().begin.column}),
             position_in(kReadmeExample, "\"142.250.72.46:443\"")));
  for (const auto& [key, table] : server)
    if (key.str() == "TLS")
      CHECK(same(out.positions.json_position({key.source().begin.line, key.source().begin.column}),
                 position_in(kReadmeExample, "\"TLS\"")));
}

TEST_CASE("passthru's own keys in JSON pass through: top-level values first, tables in the JSON's order") {
  constexpr std::string_view json = R"({"servers": {"127.0.0.1:0": {"HTTP": {"HOST a": {"action": "REJECT"}},
    "timeout_ms": 300, "TLS": {}}}, "workers": 2})";
  auto out = translate(json);
  CHECK(out.toml.find("workers = 2\n") < out.toml.find("[servers"));
  CHECK(out.toml.find("timeout_ms = 300\n") < out.toml.find("[servers.\"127.0.0.1:0\".HTTP]"));
  // TLS is empty, but a [table] after HTTP's: inline, it would come first
  CHECK(out.toml.find("[servers.\"127.0.0.1:0\".HTTP]") < out.toml.find("[servers.\"127.0.0.1:0\".TLS]"));
  auto root = toml::parse(std::string_view(out.toml), std::string_view("go.json"));
  CHECK(root["servers"]["127.0.0.1:0"]["TLS"].is_table());
  REQUIRE(out.notes.size() == 1);
  CHECK(out.notes[0].message.find("in the order written here: HTTP, then TLS") != std::string::npos);
}

TEST_CASE("an SNI wildcard, which Go compared as written, gets a note") {
  auto out = translate(R"({"servers": {"127.0.0.1:0": {"TLS": {"SNI *.example.org": {"action": "REJECT"}}}}})");
  REQUIRE(out.notes.size() == 1);
  CHECK(out.notes[0].message ==
        "passthru (Go) compared \"*.example.org\" with the client's name as it is written; in passthru it is a "
        "wildcard, for every name that ends in \".example.org\"");
}

TEST_CASE("the empty to_addr Go saves on a REJECT is left out, with a note") {
  constexpr std::string_view json =
      R"({"servers": {"127.0.0.1:0": {"TLS": {"CATCHALL": {"action": "REJECT", "to_addr": ""}}}}})";
  auto out = translate(json);
  CHECK(out.toml.find("to_addr =") == std::string::npos);
  REQUIRE(out.notes.size() == 1);
  CHECK(same(out.notes[0].where, position_in(json, "\"to_addr\"")));
}

TEST_CASE("strings and keys that TOML must quote or escape survive") {
  auto out = translate(R"({"servers": {"a\"b": {"x": {"k\\y": "tab\there \u0001"}}}})");
  auto root = toml::parse(std::string_view(out.toml), std::string_view("go.json"));
  CHECK(root["servers"]["a\"b"]["x"]["k\\y"].value<std::string>() == "tab\there \x01");
}

TEST_CASE("what cannot be a config is refused at its place") {
  auto e = errors_of("[1]");
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "a JSON config is an object, { \"version\": ..., \"servers\": { ... } }, not an array");
  constexpr std::string_view nulls =
      R"({"version": "0.2", "servers": {"a": {"TLS": {"CATCHALL": {"action": null}}}}, "x": [null]})";
  e = errors_of(nulls);
  REQUIRE(e.size() == 3);
  CHECK(e[0].message == "version must be a string \"vMAJOR.MINOR.PATCH\", such as \"v0.2.0\"");
  CHECK(e[1].message == "null has no TOML equivalent: leave the key out");
  CHECK(e[2].where.column == position_in(nulls, "[null]").column + 1);
  e = errors_of("{\"servers\": }");
  REQUIRE(e.size() == 1);
  CHECK(e[0].where.column == 13);
}

TEST_CASE("a file is a JSON config by its name") {
  CHECK(is_json_config("go.json"));
  CHECK(is_json_config("/etc/GO.JSON"));
  CHECK_FALSE(is_json_config("passthru.toml"));
  CHECK_FALSE(is_json_config("json"));
}
