#include "name_table.hpp"

#include <array>

namespace passthru::common {

namespace {
constexpr std::size_t kMaxName = 255;

bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}
}  // namespace

bool normalize_host_name(std::string_view name, char* out, std::size_t& out_length) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxName) return false;
  char previous = '.';
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!is_name_char(c)) return false;
    if (c == '.' && previous == '.') return false;  // an empty label (or a leading dot)
    out[i] = c;
    previous = c;
  }
  out_length = name.size();
  return true;
}

std::string NameTable::add(std::string_view pattern, std::uint32_t rule) {
  bool wildcard = pattern.size() > 2 && pattern.substr(0, 2) == "*.";
  std::string_view base = wildcard ? pattern.substr(2) : pattern;
  if (base.find('*') != std::string_view::npos)
    return "a wildcard is allowed only as the whole first label, as in '*.example.org'";
  std::array<char, kMaxName> normal{};
  std::size_t length = 0;
  if (!normalize_host_name(base, normal.data(), length))
    return "'" + std::string(pattern) +
           "' is not a host name (letters, digits, '-', '_' and dots between labels)";
  std::string key = wildcard ? "." + std::string(normal.data(), length)
                             : std::string(normal.data(), length);
  Map& map = wildcard ? wildcard_ : exact_;
  if (!map.emplace(std::move(key), rule).second)
    return "another rule already names '" + std::string(pattern) +
           "' (names compare case-insensitively, a trailing dot ignored)";
  return {};
}

std::optional<std::uint32_t> NameTable::find(std::string_view name) const noexcept {
  if (auto it = exact_.find(name); it != exact_.end()) return it->second;
  if (wildcard_.empty()) return std::nullopt;
  // Suffixes from the longest: "a.b.example.org" tries ".b.example.org", ".example.org", ".org".
  for (std::size_t dot = name.find('.'); dot != std::string_view::npos;
       dot = name.find('.', dot + 1)) {
    if (auto it = wildcard_.find(name.substr(dot)); it != wildcard_.end()) return it->second;
  }
  return std::nullopt;
}

}  // namespace passthru::common
