// libFuzzer target for the lists that bound where passthru connects on a client's word: a
// tunnel's `bypass` / a STREAM rule's `allow` (DestinationList), and a name-built to_addr's
// host taken from a client's SNI or Host (target_host). The input is lines: entries up to the
// first empty line, then names as clients would send them. Never a crash; a host passthru
// would connect to is lower case, at most 253 characters, of letters, digits, '-', '_', '.'.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/destination_list.hpp"
#include "config/name_target.hpp"

namespace {
void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "%s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool plain_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> entries;
  std::vector<std::string_view> names;
  bool in_names = false;
  for (std::size_t at = 0; at <= input.size();) {
    std::size_t end = std::min(input.find('\n', at), input.size());
    std::string_view line = input.substr(at, end - at);
    if (!in_names && line.empty()) in_names = true;
    else if (in_names) names.push_back(line);
    else entries.emplace_back(line);
    at = end + 1;
  }
  std::string error;
  auto list = passthru::core::DestinationList::parse(entries, error);
  if (!list && error.empty()) fail("refused without an error", input);
  passthru::core::NameAllow allow;
  for (const std::string& entry : entries)
    if (!entry.empty() && entry.size() < 254) allow.names.push_back(entry);
  for (std::string_view name : names) {
    if (list) (void)list->matches(name);
    const passthru::core::NameAllow* bounds[] = {nullptr, &allow};  // unbounded (an exact SNI rule), and a list
    for (const passthru::core::NameAllow* bound : bounds) {
      auto host = passthru::core::target_host(name, bound);
      if (host && !plain_host(*host)) fail("a host passthru would connect to", *host);
    }
  }
  return 0;
}
