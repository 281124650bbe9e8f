// NameTable: host-name rules shared by the detectors that route on a name (TLS SNI, HTTP Host).
// It holds exact names and "*.suffix" wildcards and answers which rule a name selects:
// an exact name first, then the longest wildcard. Names compare case-insensitively and one
// trailing dot is ignored. It does not parse any wire format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace passthru::common {

/// Lower-cases `name` and strips one trailing dot into `out` (at most 255 characters).
/// Returns false if it is not a plausible host name: empty, too long, an empty label, or a
/// character other than letters, digits, '-', '_' and '.'. IP literals pass, as real clients
/// send them in SNI. `out` must have room for 255 characters.
bool normalize_host_name(std::string_view name, char* out, std::size_t& out_length) noexcept;

class NameTable {
 public:
  /// Adds "name" or "*.suffix" for `rule`. Returns an empty string, or why it was refused.
  std::string add(std::string_view pattern, std::uint32_t rule);

  /// The rule for an already normalised name: exact, else the longest matching wildcard.
  [[nodiscard]] std::optional<std::uint32_t> find(std::string_view name) const noexcept;

  [[nodiscard]] bool empty() const noexcept { return exact_.empty() && wildcard_.empty(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using Map = std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>>;
  Map exact_;
  Map wildcard_;  // keyed by the suffix with its leading dot: ".example.org"
};

}  // namespace passthru::common
