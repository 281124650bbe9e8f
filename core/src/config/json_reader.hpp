// JSON reader: text (RFC 8259) -> a tree in which every key and value knows the line and column
// it was written at, so that a JSON config's errors point into the JSON file. Members keep the
// order of the file. It reads; it does not know what a config means (go_config.hpp does).
//
// Ours rather than Debian's nlohmann-json: that one (3.11) tells no position of a key or value,
// only the byte offset of a syntax error, and a config error must name line and column.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "passthru/sdk/diagnostics.hpp"

namespace passthru::core {

struct JsonMember;

struct JsonValue {
  enum class Kind : std::uint8_t { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  passthru::sdk::SourcePosition where;  ///< its first character
  /// String: the decoded text (UTF-8); Number: as written (a valid TOML number too); Bool:
  /// "true" or "false".
  std::string text;
  bool is_integer = false;          ///< Number: no fraction or exponent, within 64 bits
  std::vector<JsonValue> items;     ///< Array
  std::vector<JsonMember> members;  ///< Object, in file order; no key twice

  [[nodiscard]] const JsonValue* find(std::string_view key) const;
};

struct JsonMember {
  std::string key;
  passthru::sdk::SourcePosition where;  ///< its opening quote
  JsonValue value;
};

/// The first thing wrong with a JSON text, and where.
struct JsonError {
  passthru::sdk::SourcePosition where;
  std::string message;
};

/// How deep arrays and objects may nest: a config needs 5; this keeps the reader's recursion
/// (and a hostile file's) far from the stack's end.
inline constexpr std::size_t kMaxJsonDepth = 64;

/// Reads one JSON value filling the whole text (white space around it allowed). Columns count
/// characters (UTF-8 code points), as toml++ counts them. Strings must be valid UTF-8; a key
/// written twice in one object is an error (which of the two would count is a guess).
std::optional<JsonValue> parse_json(std::string_view text, JsonError& error);

/// "an object", "a string", ...: for messages.
const char* json_kind_name(JsonValue::Kind kind);

}  // namespace passthru::core
