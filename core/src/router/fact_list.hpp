// FactList: the facts a detector gave (SNI, ALPN, Host…) kept for the rest of a connection's
// life, for its log line and a PROXY header. A compact copy of passthru::sdk::Facts: a Verdict
// holds facts inline so that detecting allocates nothing, but a connection that lives for hours
// should not hold that fixed buffer, so the few bytes of facts are copied into one string.
#pragma once

#include <string>
#include <string_view>

#include "passthru/sdk/verdict.hpp"

namespace passthru::core {

class FactList {
 public:
  FactList() = default;
  explicit FactList(const passthru::sdk::Facts& facts) {
    for (std::size_t i = 0; i < facts.size(); ++i) {
      text_ += facts.key(i);
      text_ += '\0';
      text_ += facts.value(i);
      text_ += '\0';
    }
  }

  /// Calls f(key, value) for each fact, in the detector's order.
  template <typename F>
  void for_each(F&& f) const {
    std::string_view rest = text_;
    while (!rest.empty()) {
      auto key_end = rest.find('\0');
      auto value_end = rest.find('\0', key_end + 1);
      f(rest.substr(0, key_end), rest.substr(key_end + 1, value_end - key_end - 1));
      rest.remove_prefix(value_end + 1);
    }
  }

  /// The value stored under `key`, or an empty view.
  [[nodiscard]] std::string_view find(std::string_view key) const {
    std::string_view found;
    for_each([&](std::string_view k, std::string_view v) {
      if (found.empty() && k == key) found = v;
    });
    return found;
  }

  /// " key=value key=value" for a log line.
  [[nodiscard]] std::string to_log() const {
    std::string out;
    for_each([&](std::string_view k, std::string_view v) {
      out += ' ';
      out += k;
      out += '=';
      out += v;
    });
    return out;
  }

 private:
  std::string text_;
};

}  // namespace passthru::core
