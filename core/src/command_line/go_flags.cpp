#include "go_flags.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

namespace passthru::core {

namespace {

/// The letters passthru (Go) had as flags.
bool is_go_flag(std::string_view letter) { return letter == "c" || letter == "w" || letter == "t"; }

/// The longest timeout -t sets: timeout_ms's own bound, one hour.
constexpr double kMaxTimeoutMs = 3'600'000;

}  // namespace

std::vector<std::string> go_style_arguments(int argc, const char* const* argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i == 0 || !arg.starts_with('-')) {
      out.emplace_back(arg);
      continue;
    }
    std::string_view name = arg.substr(arg.starts_with("--") ? 2 : 1);
    auto equals = name.find('=');
    if (!is_go_flag(name.substr(0, equals))) {
      out.emplace_back(arg);
      continue;
    }
    out.push_back("-" + std::string(name.substr(0, equals)));
    if (equals != std::string_view::npos) out.emplace_back(name.substr(equals + 1));
  }
  return out;
}

std::optional<std::uint32_t> parse_go_timeout(std::string_view text, std::string& why) {
  why = "-t takes seconds (5, 2.5) or a duration such as 500ms, 5s or 1m30s, from 1 ms to 1 hour";
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  bool seconds_alone = true;  // a bare number: the seconds Go's help spoke of
  const char* at = text.data();
  const char* const stop = text.data() + text.size();
  while (at != stop) {
    if (!std::isdigit(static_cast<unsigned char>(*at)) && *at != '.') return std::nullopt;  // no sign
    double amount = 0;
    auto [end, status] = std::from_chars(at, stop, amount, std::chars_format::fixed);  // no hex, no inf
    if (status != std::errc() || !std::isfinite(amount)) return std::nullopt;
    std::string_view unit(end, static_cast<std::size_t>(stop - end));
    double scale = 0;
    std::size_t unit_length = 0;
    for (auto [name, ms] : {std::pair<std::string_view, double>{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}})
      if (unit.starts_with(name)) {
        scale = ms;
        unit_length = name.size();
        break;
      }
    if (unit_length == 0) {
      if (!unit.empty() || !seconds_alone) return std::nullopt;
      scale = 1000;
    }
    seconds_alone = false;
    total_ms += amount * scale;
    at = end + unit_length;
  }
  if (total_ms < 1 || total_ms > kMaxTimeoutMs) return std::nullopt;
  return static_cast<std::uint32_t>(std::llround(total_ms));
}

}  // namespace passthru::core
