#include "banner.hpp"

namespace passthru::ssh {

namespace {

constexpr std::string_view kPrefix = "SSH-";

BannerParse with_status(BannerStatus s) noexcept {
  BannerParse p;
  p.status = s;
  return p;
}

// RFC 4253 §4.2: printable US-ASCII without whitespace (and, for protoversion, without '-').
bool is_version_char(char c) noexcept { return c > 0x20 && c < 0x7F; }

}  // namespace

BannerParse parse_banner(passthru::sdk::ByteSpan bytes, bool eof) noexcept {
  std::string_view b = passthru::sdk::as_chars(bytes);
  for (std::size_t i = 0; i < kPrefix.size() && i < b.size(); ++i)
    if (b[i] != kPrefix[i]) return with_status(BannerStatus::NotSsh);

  // Find the line end within the 255-character limit.
  std::size_t lf = b.find('\n');
  if (lf == std::string_view::npos) {
    if (b.size() >= kMaxBannerLength) return with_status(BannerStatus::Malformed);
    if (eof) return with_status(BannerStatus::Truncated);
    BannerParse p;
    p.need_bytes = b.size() + 1;
    return p;
  }
  if (lf + 1 > kMaxBannerLength) return with_status(BannerStatus::Malformed);
  std::string_view line = b.substr(0, lf);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

  std::string_view rest = line.substr(kPrefix.size());
  std::size_t dash = rest.find('-');
  if (dash == std::string_view::npos || dash == 0) return with_status(BannerStatus::Malformed);
  BannerParse p;
  p.banner.protocol_version = rest.substr(0, dash);
  for (char c : p.banner.protocol_version)
    if (!is_version_char(c)) return with_status(BannerStatus::Malformed);
  rest.remove_prefix(dash + 1);
  std::size_t space = rest.find(' ');
  p.banner.software_version = rest.substr(0, space);
  if (p.banner.software_version.empty()) return with_status(BannerStatus::Malformed);
  for (char c : p.banner.software_version)
    if (!is_version_char(c)) return with_status(BannerStatus::Malformed);
  if (space != std::string_view::npos) {
    p.banner.comments = rest.substr(space + 1);
    for (char c : p.banner.comments)
      if (c < 0x20 || c == 0x7F) return with_status(BannerStatus::Malformed);
  }
  p.status = BannerStatus::Complete;
  return p;
}

}  // namespace passthru::ssh
