#include "json_reader.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace passthru::core {

using passthru::sdk::SourcePosition;

namespace {

/// A cursor over the text that knows its line and column. Every error ends the read: `fail`
/// records the first one and every later step sees `failed()`.
class Reader {
 public:
  Reader(std::string_view text, JsonError& error) : text_(text), error_(error) {}

  std::optional<JsonValue> document() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // a UTF-8 byte order mark (RFC 8259 §8.1 lets a reader skip it)
    skip_space();
    JsonValue root;
    if (!value(root, 0)) return std::nullopt;
    skip_space();
    if (!at_end()) return fail(here(), "unexpected text after the JSON value"), std::nullopt;
    return root;
  }

 private:
  [[nodiscard]] bool at_end() const { return pos_ >= text_.size(); }
  [[nodiscard]] char peek() const { return at_end() ? '\0' : text_[pos_]; }
  [[nodiscard]] SourcePosition here() const { return {line_, column_}; }

  void advance() {
    char c = text_[pos_++];
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
      ++column_;
    }
  }

  bool fail(SourcePosition where, std::string message) {
    error_ = {where, std::move(message)};
    return false;
  }

  /// RFC 8259 §2: space, tab, line feed, carriage return.
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) advance();
  }

  std::string describe_here() const {
    if (at_end()) return "the end of the file";
    unsigned char c = static_cast<unsigned char>(peek());
    if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", c);
    return std::string("byte ") + hex;
  }

  bool value(JsonValue& out, std::size_t depth) {
    out.where = here();
    char c = peek();
    if (c == '{' || c == '[') {
      if (depth >= kMaxJsonDepth)
        return fail(here(), "nested more than " + std::to_string(kMaxJsonDepth) + " deep");
      return c == '{' ? object(out, depth + 1) : array(out, depth + 1);
    }
    if (c == '"') {
      out.kind = JsonValue::Kind::String;
      return string(out.text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    for (std::string_view word : {"true", "false", "null"}) {
      if (text_.substr(pos_, word.size()) == word) {
        out.kind = word == "null" ? JsonValue::Kind::Null : JsonValue::Kind::Bool;
        out.text = std::string(word);
        for (std::size_t i = 0; i < word.size(); ++i) advance();
        return true;
      }
    }
    return fail(here(), "expected a value (an object, array, string, number, true, false or null), found " +
                            describe_here());
  }

  bool object(JsonValue& out, std::size_t depth) {
    out.kind = JsonValue::Kind::Object;
    advance();  // {
    skip_space();
    if (peek() == '}') return advance(), true;
    for (;;) {
      if (peek() != '"') return fail(here(), "expected a key in double quotes, found " + describe_here());
      JsonMember member;
      member.where = here();
      if (!string(member.key)) return false;
      for (const JsonMember& earlier : out.members)
        if (earlier.key == member.key)
          return fail(member.where, "key \"" + member.key + "\" is written twice in this object (first at line " +
                                        std::to_string(earlier.where.line) + ", column " +
                                        std::to_string(earlier.where.column) + ")");
      skip_space();
      if (peek() != ':') return fail(here(), "expected ':' after the key, found " + describe_here());
      advance();
      skip_space();
      if (!value(member.value, depth)) return false;
      out.members.push_back(std::move(member));
      skip_space();
      if (peek() == '}') return advance(), true;
      if (peek() != ',') return fail(here(), "expected ',' or '}' in this object, found " + describe_here());
      advance();
      skip_space();
      if (peek() == '}') return fail(here(), "a comma before '}': JSON allows no trailing comma");
    }
  }

  bool array(JsonValue& out, std::size_t depth) {
    out.kind = JsonValue::Kind::Array;
    advance();  // [
    skip_space();
    if (peek() == ']') return advance(), true;
    for (;;) {
      JsonValue item;
      if (!value(item, depth)) return false;
      out.items.push_back(std::move(item));
      skip_space();
      if (peek() == ']') return advance(), true;
      if (peek() != ',') return fail(here(), "expected ',' or ']' in this array, found " + describe_here());
      advance();
      skip_space();
      if (peek() == ']') return fail(here(), "a comma before ']': JSON allows no trailing comma");
    }
  }

  static constexpr std::size_t kMaxNumberLength = 64;

  /// RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, which TOML reads alike.
  bool number(JsonValue& out) {
    out.kind = JsonValue::Kind::Number;
    std::size_t start = pos_;
    auto digits = [&] {
      std::size_t first = pos_;
      while (peek() >= '0' && peek() <= '9') advance();
      return pos_ - first;
    };
    if (peek() == '-') advance();
    if (peek() == '0') {
      advance();
      if (peek() >= '0' && peek() <= '9') return fail(out.where, "a number may not start with 0");
    } else if (digits() == 0) {
      return fail(here(), "expected a digit, found " + describe_here());
    }
    out.is_integer = true;
    if (peek() == '.') {
      advance();
      if (digits() == 0) return fail(here(), "expected a digit after '.', found " + describe_here());
      out.is_integer = false;
    }
    if (peek() == 'e' || peek() == 'E') {
      advance();
      if (peek() == '+' || peek() == '-') advance();
      if (digits() == 0) return fail(here(), "expected a digit in the exponent, found " + describe_here());
      out.is_integer = false;
    }
    out.text = std::string(text_.substr(start, pos_ - start));
    // TOML readers cap a number's digits (toml++: 128); no value in a config needs a tenth of that.
    if (out.text.size() > kMaxNumberLength)
      return fail(out.where, "a number of more than " + std::to_string(kMaxNumberLength) + " characters");
    errno = 0;
    if (out.is_integer) {
      (void)std::strtoll(out.text.c_str(), nullptr, 10);
      if (errno == ERANGE) return fail(out.where, "the whole number " + out.text + " does not fit in 64 bits");
    } else if (!std::isfinite(std::strtod(out.text.c_str(), nullptr))) {
      return fail(out.where, "the number " + out.text + " is too large");
    }
    return true;
  }

  bool string(std::string& out) {
    advance();  // "
    for (;;) {
      if (at_end()) return fail(here(), "the string is not closed: expected '\"' before the end of the file");
      unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') return advance(), true;
      if (c < 0x20)
        return fail(here(), "a control character in a string must be written as an escape, such as \\n");
      if (c == '\\') {
        if (!escape(out)) return false;
      } else if (c < 0x80) {
        out += static_cast<char>(c);
        advance();
      } else if (!utf8_sequence(out)) {
        return false;
      }
    }
  }

  /// RFC 8259 §7: \" \\ \/ \b \f \n \r \t \uXXXX (a pair of them for a character past U+FFFF).
  bool escape(std::string& out) {
    SourcePosition at = here();
    advance();  // backslash
    char c = peek();
    if (at_end()) return fail(at, "the string is not closed: expected '\"' before the end of the file");
    static constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
    if (auto i = kFrom.find(c); i != std::string_view::npos) {
      out += kTo[i];
      advance();
      return true;
    }
    if (c != 'u') return fail(at, "unknown escape '\\" + std::string(1, c) + "'");
    advance();
    std::uint32_t unit = 0;
    if (!hex4(unit, at)) return false;
    std::uint32_t code = unit;
    if (unit >= 0xD800 && unit <= 0xDBFF) {  // a high surrogate: its low half must follow
      std::uint32_t low = 0;
      if (text_.substr(pos_, 2) != "\\u") return fail(at, "\\u" + hex_text(unit) + " needs its low surrogate after it");
      advance();
      advance();
      if (!hex4(low, at)) return false;
      if (low < 0xDC00 || low > 0xDFFF) return fail(at, "\\u" + hex_text(unit) + " needs its low surrogate after it");
      code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return fail(at, "\\u" + hex_text(unit) + " is half of a surrogate pair, alone");
    }
    append_utf8(out, code);
    return true;
  }

  bool hex4(std::uint32_t& out, SourcePosition at) {
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (digit < 0) return fail(at, "\\u takes four hexadecimal digits");
      out = out * 16 + static_cast<std::uint32_t>(digit);
      advance();
    }
    return true;
  }

  static std::string hex_text(std::uint32_t unit) {
    char text[8];
    std::snprintf(text, sizeof text, "%04X", unit);
    return text;
  }

  static void append_utf8(std::string& out, std::uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  /// One multi-byte UTF-8 character (RFC 3629 §4: no overlong form, no surrogate, none past U+10FFFF).
  bool utf8_sequence(std::string& out) {
    SourcePosition at = here();
    auto lead = static_cast<unsigned char>(peek());
    std::size_t length = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
    if (length == 0 || pos_ + length > text_.size()) return fail(at, "a string holds bytes that are not UTF-8");
    std::uint32_t code = lead & (0xFF >> (length + 1));
    for (std::size_t i = 1; i < length; ++i) {
      auto next = static_cast<unsigned char>(text_[pos_ + i]);
      if ((next & 0xC0) != 0x80) return fail(at, "a string holds bytes that are not UTF-8");
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr std::uint32_t kLeast[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kLeast[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return fail(at, "a string holds bytes that are not UTF-8");
    out.append(text_.substr(pos_, length));
    for (std::size_t i = 0; i < length; ++i) advance();
    return true;
  }

  std::string_view text_;
  JsonError& error_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
};

}  // namespace

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const JsonMember& member : members)
    if (member.key == key) return &member.value;
  return nullptr;
}

std::optional<JsonValue> parse_json(std::string_view text, JsonError& error) {
  return Reader(text, error).document();
}

const char* json_kind_name(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::Null: return "null";
    case JsonValue::Kind::Bool: return "true or false";
    case JsonValue::Kind::Number: return "a number";
    case JsonValue::Kind::String: return "a string";
    case JsonValue::Kind::Array: return "an array";
    case JsonValue::Kind::Object: return "an object";
  }
  return "a value";
}

}  // namespace passthru::core
