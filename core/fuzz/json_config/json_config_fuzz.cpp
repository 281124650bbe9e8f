// libFuzzer target for reading a passthru (Go) JSON config. The input is the file's text. The
// reader may refuse it, but never crash; and whatever it accepts must become TOML that toml++
// reads (the loader has no other path for a JSON config), every position of which maps back
// to a place inside the JSON.
#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "config/go_config.hpp"

namespace {

void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "%s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

/// Every key and value's JSON position lies within the JSON's lines.
void check_positions(const toml::node& node, const passthru::core::SourceMap& map, std::uint32_t lines) {
  auto check = [&](const toml::source_region& region) {
    auto json = map.json_position({region.begin.line, region.begin.column});
    if (json.line == 0 || json.line > lines || json.column == 0) fail("a position maps outside the JSON", "");
  };
  check(node.source());
  if (const auto* table = node.as_table())
    for (const auto& [key, value] : *table) {
      check(key.source());
      check_positions(value, map, lines);
    }
  if (const auto* array = node.as_array())
    for (const auto& item : *array) check_positions(item, map, lines);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  std::vector<passthru::core::JsonDiagnostic> errors;
  auto translation = passthru::core::translate_go_config(json, "fuzz.json", errors);
  if (!translation) {
    if (errors.empty()) fail("refused without an error", json);
    return 0;
  }
  toml::table root;
  try {
    root = toml::parse(std::string_view(translation->toml), std::string_view("fuzz.json"));
  } catch (const toml::parse_error& e) {
    fail("the TOML written for an accepted JSON does not parse", e.description());
  }
  auto lines = static_cast<std::uint32_t>(std::count(json.begin(), json.end(), '\n') + 1);
  for (const auto& [key, value] : root) check_positions(value, translation->positions, lines);
  return 0;
}
