// Unit tests of parse_json: the values and positions a JSON config's loader relies on, and the
// first error of each kind of broken text, at its line and column.
#include <doctest/doctest.h>

#include "config/json_reader.hpp"

using namespace passthru::core;

namespace {

JsonError error_of(std::string_view text) {
  JsonError error;
  CHECK_FALSE(parse_json(text, error));
  return error;
}

}  // namespace

TEST_CASE("an object keeps its members in file order, each key and value with its line and column") {
  JsonError error;
  auto root = parse_json("{\n  \"b\": 1,\n  \"a\": { \"x\": [true, null, \"s\"] }\n}", error);
  REQUIRE(root);
  REQUIRE(root->members.size() == 2);
  CHECK(root->members[0].key == "b");
  CHECK(root->members[0].where.line == 2);
  CHECK(root->members[0].where.column == 3);
  CHECK(root->members[0].value.where.column == 8);
  CHECK(root->members[0].value.is_integer);
  const JsonValue* a = root->find("a");
  REQUIRE(a);
  CHECK(a->kind == JsonValue::Kind::Object);
  CHECK(a->where.line == 3);
  CHECK(a->where.column == 8);
  const JsonValue* x = a->find("x");
  REQUIRE(x);
  REQUIRE(x->items.size() == 3);
  CHECK(x->items[1].kind == JsonValue::Kind::Null);
  CHECK(x->items[2].text == "s");
  CHECK(x->items[2].where.column == 28);
}

TEST_CASE("columns count characters, not bytes, as toml++ does") {
  JsonError error;
  auto root = parse_json("{\"\xC3\xA9t\xC3\xA9\": \"x\", \"k\": 1}", error);  // "été"
  REQUIRE(root);
  CHECK(root->members[0].key == "\xC3\xA9t\xC3\xA9");
  CHECK(root->members[1].where.column == 14);
}

TEST_CASE("escapes decode to UTF-8, a surrogate pair to one character") {
  JsonError error;
  auto root = parse_json(R"(["a\"b\\c\/\n\t", "\u00e9", "\ud83d\ude00"])", error);
  REQUIRE(root);
  CHECK(root->items[0].text == "a\"b\\c/\n\t");
  CHECK(root->items[1].text == "\xC3\xA9");
  CHECK(root->items[2].text == "\xF0\x9F\x98\x80");
}

TEST_CASE("numbers are kept as written, whole ones told apart") {
  JsonError error;
  auto root = parse_json("[0, -12, 1.5, 2e3, -0.25E-2]", error);
  REQUIRE(root);
  CHECK(root->items[1].text == "-12");
  CHECK(root->items[1].is_integer);
  CHECK_FALSE(root->items[2].is_integer);
  CHECK(root->items[4].text == "-0.25E-2");
}

TEST_CASE("a byte order mark and surrounding white space are allowed") {
  JsonError error;
  auto root = parse_json("\xEF\xBB\xBF \r\n {} \n", error);
  REQUIRE(root);
  CHECK(root->where.line == 2);
  CHECK(root->where.column == 2);
}

TEST_CASE("each syntax error is told at its line and column") {
  auto e = error_of("{\n  \"a\": 1,\n}");
  CHECK(e.where.line == 3);
  CHECK(e.where.column == 1);
  CHECK(e.message == "a comma before '}': JSON allows no trailing comma");
  e = error_of("{\"a\" 1}");
  CHECK(e.where.column == 6);
  CHECK(e.message == "expected ':' after the key, found '1'");
  e = error_of("{\"a\": 1, \"a\": 2}");
  CHECK(e.where.column == 10);
  CHECK(e.message == "key \"a\" is written twice in this object (first at line 1, column 2)");
  CHECK(error_of("").message.find("found the end of the file") != std::string::npos);
  CHECK(error_of("{} {}").message == "unexpected text after the JSON value");
  CHECK(error_of("[01]").message == "a number may not start with 0");
  CHECK(error_of("[1.]").message.find("after '.'") != std::string::npos);
  CHECK(error_of("[99999999999999999999]").message.find("64 bits") != std::string::npos);
  CHECK(error_of("[1e999]").message.find("too large") != std::string::npos);
  CHECK(error_of("[1." + std::string(70, '4') + "]").message == "a number of more than 64 characters");
  CHECK(error_of("[\"a\nb\"]").message.find("control character") != std::string::npos);
  CHECK(error_of("[\"\\x\"]").message == "unknown escape '\\x'");
  CHECK(error_of("[\"\\ud83d\"]").message.find("low surrogate") != std::string::npos);
  CHECK(error_of("[\"\\ude00\"]").message.find("alone") != std::string::npos);
  CHECK(error_of("[\"\xC3\"]").message.find("not UTF-8") != std::string::npos);
  CHECK(error_of("[\"\xC0\xAF\"]").message.find("not UTF-8") != std::string::npos);  // an overlong '/'
  CHECK(error_of("[tru]").message.find("expected a value") != std::string::npos);
  CHECK(error_of("{'a': 1}").message == "expected a key in double quotes, found '''");
  CHECK(error_of("\"open").message.find("not closed") != std::string::npos);
}

TEST_CASE("nesting past the limit is an error, not a deep recursion") {
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  CHECK(error_of(deep).message.find("nested more than") != std::string::npos);
  std::string fine(kMaxJsonDepth, '[');
  fine += std::string(kMaxJsonDepth, ']');
  JsonError error;
  CHECK(parse_json(fine, error));
}
