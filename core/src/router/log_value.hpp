// append_log_value: how a value from outside (a fact a detector saw in a client's bytes) is
// written into the access log's `key=value` line (append_json_string: into its JSON line), so
// that no value can end the line early, split itself into several fields, or forge another
// field. It is not the log line's formatter.
//
// A value is written as it is when it is not empty and every byte is printable ASCII other
// than space, `"`, `\`, `(` and `)`. Any other value is written in double quotes, with `\"`,
// `\\`, `\r`, `\n` and `\t`, and `\xHH` (two lower-case hex digits) for every other byte below
// 0x20 or from 0x7F up. So a line stays one line of ASCII, a quote in it always opens or closes
// a value, and a bare `(ambiguous)` is the flag FactList writes, never a client's text.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace passthru::core {

/// Whether `c` can stand in a value written without quotes.
constexpr bool is_bare_log_byte(unsigned char c) noexcept {
  return c > 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '(' && c != ')';
}

/// `always_quote`: in quotes even when it could stand bare (a rule key, always quoted in the line).
inline void append_log_value(std::string& line, std::string_view value, bool always_quote = false) {
  bool bare = !always_quote && !value.empty() &&
              std::all_of(value.begin(), value.end(), [](char c) { return is_bare_log_byte(static_cast<unsigned char>(c)); });
  if (bare) {
    line += value;
    return;
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  line += '"';
  std::size_t run = 0;  // bytes that stand as they are, appended together before the next escape
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    auto byte = static_cast<unsigned char>(c);
    bool plain = c != '"' && c != '\\' && byte >= 0x20 && byte < 0x7F;
    if (plain) {
      ++run;
      continue;
    }
    line.append(value.data() + i - run, run);
    run = 0;
    switch (c) {
      case '"': line += "\\\""; break;
      case '\\': line += "\\\\"; break;
      case '\r': line += "\\r"; break;
      case '\n': line += "\\n"; break;
      case '\t': line += "\\t"; break;
      default:  // any other byte below 0x20 or from 0x7F up
        line += "\\x";
        line += kDigits[byte >> 4];
        line += kDigits[byte & 0x0F];
    }
  }
  line.append(value.data() + value.size() - run, run);
  line += '"';
}

/// `value` as a JSON string, quotes included: `"` and `\` escaped, and every byte below 0x20 or
/// from 0x7F up written as \u00HH (a byte from a client is not always UTF-8: this keeps the line
/// ASCII and valid JSON, each byte readable as the code point of the same number).
inline void append_json_string(std::string& line, std::string_view value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  line += '"';
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      line += '\\';
      line += c;
    } else if (byte < 0x20 || byte >= 0x7F) {
      line += "\\u00";
      line += kDigits[byte >> 4];
      line += kDigits[byte & 0x0F];
    } else {
      line += c;
    }
  }
  line += '"';
}

}  // namespace passthru::core
