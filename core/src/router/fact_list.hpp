// FactList: the facts a detector gave (SNI, ALPN, Host…) kept for the rest of a connection's
// life, for its log line and a PROXY header. A compact copy of passthru::sdk::Facts: a Verdict
// holds facts inline so that detecting allocates nothing, but a connection that lives for hours
// should not hold that fixed buffer, so the few bytes of facts are copied into one string.
// Each fact is stored with its lengths, never with a separator, so a value may hold any byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "log_value.hpp"
#include "passthru/sdk/verdict.hpp"

namespace passthru::core {

class FactList {
 public:
  FactList() = default;
  explicit FactList(const passthru::sdk::Facts& facts) {
    for (std::size_t i = 0; i < facts.size(); ++i) append(facts.key(i), facts.value(i));
  }

  /// Calls f(key, value) for each fact, in the detector's order.
  template <typename F>
  void for_each(F&& f) const {
    std::size_t at = 0;
    while (at + kHeaderSize <= text_.size()) {
      std::size_t key_length = static_cast<unsigned char>(text_[at]);
      std::size_t value_length = static_cast<unsigned char>(text_[at + 1]) << 8 | static_cast<unsigned char>(text_[at + 2]);
      std::string_view record(text_.data() + at + kHeaderSize, key_length + value_length);
      f(record.substr(0, key_length), record.substr(key_length));
      at += kHeaderSize + record.size();
    }
  }

  /// The value stored under `key`, or an empty view.
  [[nodiscard]] std::string_view find(std::string_view key) const {
    std::string_view found;
    bool seen = false;
    for_each([&](std::string_view k, std::string_view v) {
      if (!seen && k == key) {
        found = v;
        seen = true;
      }
    });
    return found;
  }

  /// " key=value key=value" for a log line, each value escaped as log_value.hpp says.
  [[nodiscard]] std::string to_log() const {
    std::string out;
    for_each([&](std::string_view k, std::string_view v) {
      out += ' ';
      out += k;
      out += '=';
      append_log_value(out, v);
    });
    return out;
  }

 private:
  // A record is the key's length (1 byte), the value's (2 bytes, big-endian), the key, the value.
  static constexpr std::size_t kHeaderSize = 3;

  void append(std::string_view key, std::string_view value) {
    key = key.substr(0, 0xFF);
    value = value.substr(0, 0xFFFF);  // a Facts buffer is far smaller: nothing is cut in practice
    text_ += static_cast<char>(key.size());
    text_ += static_cast<char>(value.size() >> 8);
    text_ += static_cast<char>(value.size() & 0xFF);
    text_ += key;
    text_ += value;
  }

  std::string text_;
};

}  // namespace passthru::core
