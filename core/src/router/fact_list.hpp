// FactList: the facts a detector gave (SNI, ALPN, Host…) kept for the rest of a connection's
// life, for its log line and a PROXY header. A compact copy of passthru::sdk::Facts: a Verdict
// holds facts inline so that detecting allocates nothing, but a connection that lives for hours
// should not hold that fixed buffer, so the few bytes of facts are copied into one string.
// Each fact is stored with its lengths, never with a separator, so a value may hold any byte.
// The well-known facts the core uses are read here, by meaning; nothing else in the core
// spells a key.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "passthru/sdk/verdict.hpp"

namespace passthru::core {

class FactList {
 public:
  FactList() = default;
  explicit FactList(const passthru::sdk::Facts& facts) {
    std::size_t size = 0;  // one allocation for them all, not one per doubling
    for (std::size_t i = 0; i < facts.size(); ++i) size += kHeaderSize + record_size(facts[i]);
    text_.reserve(size);
    for (std::size_t i = 0; i < facts.size(); ++i) append(facts[i]);
  }

  /// Calls f(const sdk::Fact&) for each fact, in the detector's order.
  template <typename F>
  void for_each(F&& f) const {
    std::size_t at = 0;
    while (at + kHeaderSize <= text_.size()) {
      auto byte = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(text_[at + i])); };
      auto kind = static_cast<passthru::sdk::FactKind>(byte(0));
      std::size_t key_length = byte(1);
      std::size_t value_length = byte(2) << 8 | byte(3);
      std::string_view record(text_.data() + at + kHeaderSize, key_length + value_length);
      f(passthru::sdk::Fact{record.substr(0, key_length), record.substr(key_length), kind});
      at += kHeaderSize + record.size();
    }
  }

  /// The value of the first fact under `key` (empty for an Ambiguous one), or an empty view.
  [[nodiscard]] std::string_view find(std::string_view key) const {
    std::string_view found;
    bool seen = false;
    for_each([&](const passthru::sdk::Fact& fact) {
      if (!seen && fact.key == key) {
        found = fact.value;
        seen = true;
      }
    });
    return found;
  }

  /// The name the client asked for, for a PROXY v2 AUTHORITY: its TLS SNI, else its HTTP
  /// Host; empty when it named none, or named its host ambiguously.
  [[nodiscard]] std::string_view authority() const {
    std::string_view sni = find(passthru::sdk::fact_key::kSni);
    return !sni.empty() ? sni : find(passthru::sdk::fact_key::kHost);
  }

  /// The first ALPN protocol the client offered, exactly as offered, for a PROXY v2 ALPN; empty
  /// when it offered none.
  [[nodiscard]] std::string_view alpn_first() const { return find(passthru::sdk::fact_key::kAlpnFirst); }

 private:
  // A record is the fact's kind (1 byte), its key's length (1 byte), its value's (2 bytes,
  // big-endian), the key, the value.
  static constexpr std::size_t kHeaderSize = 4;
  static constexpr std::size_t kMaxKey = 0xFF;      // what the key's length byte holds
  static constexpr std::size_t kMaxValue = 0xFFFF;  // what the value's two bytes hold; a Facts buffer is far smaller

  static std::size_t record_size(const passthru::sdk::Fact& fact) {
    return std::min(fact.key.size(), kMaxKey) + std::min(fact.value.size(), kMaxValue);
  }
  void append(const passthru::sdk::Fact& fact) {
    std::string_view key = fact.key.substr(0, kMaxKey);
    std::string_view value = fact.value.substr(0, kMaxValue);
    text_ += static_cast<char>(fact.kind);
    text_ += static_cast<char>(key.size());
    text_ += static_cast<char>(value.size() >> 8);
    text_ += static_cast<char>(value.size() & 0xFF);
    text_ += key;
    text_ += value;
  }

  std::string text_;
};

}  // namespace passthru::core
