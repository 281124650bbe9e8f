// TomlFromJson: writes a JSON object tree as TOML text, and remembers for every key and value
// it writes where that came from in the JSON file (a SourceMap), so that the one TOML loader
// can report a JSON config's errors at the JSON's own line and column.
//
// The layout is the one passthru's configs use: an object that holds objects is a [table]
// (listeners, protocols); one that holds none is an inline table (a rule). A table's other
// entries come before its sub-tables, as TOML requires; the order of objects among themselves
// stays the JSON's, since protocols are consulted in that order. What a value means is not known
// here (go_config.hpp decides that).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json_reader.hpp"

namespace passthru::core {

/// From positions in the written TOML to the JSON positions they were written from.
class SourceMap {
 public:
  void add(passthru::sdk::SourcePosition toml, passthru::sdk::SourcePosition json) { entries_.emplace_back(toml, json); }
  /// The JSON position of what starts at `toml`: the entry at it, else the nearest before it
  /// (a table that a header makes is placed at the '[', which maps to its object's '{').
  /// Unknown (line 0) stays unknown.
  [[nodiscard]] passthru::sdk::SourcePosition json_position(passthru::sdk::SourcePosition toml) const;

 private:
  std::vector<std::pair<passthru::sdk::SourcePosition, passthru::sdk::SourcePosition>> entries_;  ///< in TOML order
};

/// Comment lines to write before the first line that writes a member's key.
using MemberComments = std::map<const JsonMember*, std::vector<std::string>>;

class TomlFromJson {
 public:
  explicit TomlFromJson(const MemberComments& comments) : comments_(comments) {}

  /// Comment lines ("# " added before each).
  void comment(std::string_view text);
  /// The root object's members, each as above. Null values and arrays that TOML cannot hold
  /// must have been refused before (go_config.cpp does).
  void document(const JsonValue& root);

  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] SourceMap take_map() { return std::move(map_); }

 private:
  /// Whether `member` is written as a [table] in its table, given a table already came before.
  static bool is_section(const JsonMember& member, bool after_a_section);
  void table(std::vector<const JsonMember*>& path, const JsonValue& object);
  void header(const std::vector<const JsonMember*>& path, const JsonValue& object);
  void key(const JsonMember& member);
  void value(const JsonValue& value);
  void put(std::string_view text);
  void mark(passthru::sdk::SourcePosition json) { map_.add({line_, column_}, json); }
  void comments_for(const JsonMember& member);

  const MemberComments& comments_;
  std::vector<const JsonMember*> commented_;
  std::string text_;
  SourceMap map_;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
};

/// `text` as a TOML key: bare when it can be (A-Z a-z 0-9 _ -), else a quoted basic string.
std::string toml_key(std::string_view text);
/// `text` as a TOML basic string, quotes included (TOML 1.0 §String: escapes for '"', '\' and
/// control characters).
std::string toml_string(std::string_view text);

}  // namespace passthru::core
