#include "destination_list.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace passthru::core {

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// An IPv4 or IPv6 literal's family and bytes; 0 if `text` is neither.
int parse_address(std::string_view text, unsigned char* bytes) {
  std::string s(text);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (inet_pton(AF_INET, s.c_str(), bytes) == 1) return AF_INET;
  if (inet_pton(AF_INET6, s.c_str(), bytes) == 1) return AF_INET6;
  return 0;
}

bool is_name(std::string_view s) {
  return !s.empty() && s.size() <= 253 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}
}  // namespace

std::optional<DestinationList> DestinationList::parse(const std::vector<std::string>& entries, std::string& error) {
  DestinationList list;
  for (const std::string& entry : entries) {
    std::string_view e = entry;
    Prefix prefix;
    std::size_t slash = e.find('/');
    if (int family = parse_address(e.substr(0, slash), prefix.bytes)) {
      prefix.family = family;
      unsigned most = family == AF_INET ? 32 : 128;
      prefix.bits = most;
      if (slash != std::string_view::npos) {
        std::string_view bits = e.substr(slash + 1);
        if (bits.empty() || bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), ::isdigit) ||
            std::stoul(std::string(bits)) > most) {
          error = "'" + entry + "': a prefix length is 0 to " + std::to_string(most);
          return std::nullopt;
        }
        prefix.bits = static_cast<unsigned>(std::stoul(std::string(bits)));
      }
      list.prefixes_.push_back(prefix);
      continue;
    }
    Name name;
    if (e.substr(0, 2) == "*.") {
      name.children = true;
      e.remove_prefix(2);
    } else if (e.substr(0, 1) == ".") {
      name.exact = name.children = true;
      e.remove_prefix(1);
    } else {
      name.exact = true;
    }
    if (!is_name(e)) {
      error = "'" + entry + "' is not an address, a CIDR prefix, a name, .suffix or *.suffix";
      return std::nullopt;
    }
    name.text = lower(e);
    list.names_.push_back(std::move(name));
  }
  return list;
}

bool DestinationList::matches(std::string_view host) const {
  unsigned char bytes[16] = {};
  if (int family = parse_address(host, bytes)) {
    for (const Prefix& p : prefixes_) {
      if (p.family != family) continue;
      unsigned full = p.bits / 8, rest = p.bits % 8;
      if (!std::equal(bytes, bytes + full, p.bytes)) continue;
      if (rest && ((bytes[full] ^ p.bytes[full]) & (0xFF << (8 - rest)) & 0xFF)) continue;
      return true;
    }
    return false;
  }
  std::string name = lower(host);
  while (!name.empty() && name.back() == '.') name.pop_back();  // a fully qualified name
  for (const Name& n : names_) {
    if (n.exact && name == n.text) return true;
    if (n.children && name.size() > n.text.size() + 1 && name.ends_with(n.text) &&
        name[name.size() - n.text.size() - 1] == '.')
      return true;
  }
  return false;
}

}  // namespace passthru::core
