#include "toml_from_json.hpp"

#include <algorithm>
#include <cstdio>

namespace passthru::core {

using passthru::sdk::SourcePosition;

namespace {

bool comes_before(SourcePosition a, SourcePosition b) {
  return std::pair(a.line, a.column) < std::pair(b.line, b.column);
}

}  // namespace

SourcePosition SourceMap::json_position(SourcePosition toml) const {
  if (toml.line == 0 || entries_.empty()) return toml;
  auto after = std::upper_bound(entries_.begin(), entries_.end(), toml,
                                [](SourcePosition p, const auto& entry) { return comes_before(p, entry.first); });
  return after == entries_.begin() ? entries_.front().second : std::prev(after)->second;
}

std::string toml_key(std::string_view text) {
  bool bare = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  return bare ? std::string(text) : toml_string(text);
}

std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04X", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void TomlFromJson::comment(std::string_view text) {
  for (;;) {
    auto end = text.find('\n');
    put("# ");
    // A note may quote a key of the file; TOML allows no control character but tab in a comment.
    for (char c : text.substr(0, end)) {
      auto byte = static_cast<unsigned char>(c);
      if ((byte < 0x20 && c != '\t') || byte == 0x7F) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        put(std::string{'\\', 'x', kHex[byte >> 4], kHex[byte & 0xF]});
      } else {
        put(std::string_view(&c, 1));
      }
    }
    put("\n");
    if (end == std::string_view::npos) return;
    text.remove_prefix(end + 1);
  }
}

void TomlFromJson::document(const JsonValue& root) {
  std::vector<const JsonMember*> path;
  table(path, root);
}

bool TomlFromJson::is_section(const JsonMember& member, bool after_a_section) {
  if (member.value.kind != JsonValue::Kind::Object) return false;
  return after_a_section || std::any_of(member.value.members.begin(), member.value.members.end(),
                                        [](const JsonMember& m) { return m.value.kind == JsonValue::Kind::Object; });
}

void TomlFromJson::table(std::vector<const JsonMember*>& path, const JsonValue& object) {
  std::vector<const JsonMember*> entries, sections;
  for (const JsonMember& member : object.members)
    (is_section(member, !sections.empty()) ? sections : entries).push_back(&member);
  if (!path.empty() && (!entries.empty() || sections.empty())) header(path, object);
  for (const JsonMember* member : entries) {
    comments_for(*member);
    key(*member);
    put(" = ");
    value(member->value);
    put("\n");
  }
  for (const JsonMember* member : sections) {
    path.push_back(member);
    table(path, member->value);
    path.pop_back();
  }
}

void TomlFromJson::header(const std::vector<const JsonMember*>& path, const JsonValue& object) {
  if (!text_.empty()) put("\n");
  for (const JsonMember* member : path) comments_for(*member);
  mark(object.where);  // toml++ places a header's table at its '['
  put("[");
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i) put(".");
    key(*path[i]);
  }
  put("]\n");
}

void TomlFromJson::key(const JsonMember& member) {
  mark(member.where);
  put(toml_key(member.key));
}

void TomlFromJson::value(const JsonValue& value) {
  mark(value.where);
  switch (value.kind) {
    case JsonValue::Kind::String: put(toml_string(value.text)); return;
    case JsonValue::Kind::Number:
    case JsonValue::Kind::Bool: put(value.text); return;
    case JsonValue::Kind::Null: return;  // refused before: TOML has no null
    case JsonValue::Kind::Array:
      put("[");
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (i) put(", ");
        this->value(value.items[i]);
      }
      put("]");
      return;
    case JsonValue::Kind::Object:
      if (value.members.empty()) return put("{}");
      put("{ ");
      for (std::size_t i = 0; i < value.members.size(); ++i) {
        if (i) put(", ");
        key(value.members[i]);
        put(" = ");
        this->value(value.members[i].value);
      }
      put(" }");
      return;
  }
}

void TomlFromJson::put(std::string_view text) {
  for (char c : text) {
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {  // a character's first byte
      ++column_;
    }
  }
  text_ += text;
}

void TomlFromJson::comments_for(const JsonMember& member) {
  auto found = comments_.find(&member);
  if (found == comments_.end() || std::find(commented_.begin(), commented_.end(), &member) != commented_.end()) return;
  commented_.push_back(&member);
  for (const std::string& line : found->second) comment(line);
}

}  // namespace passthru::core
