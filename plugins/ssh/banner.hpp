// Parses an SSH client's identification string (RFC 4253 §4.2):
//   SSH-protoversion-softwareversion [SP comments] CR LF
// at most 255 characters with the CR LF. A bare LF ends the line too, as old clients send it.
// It does not match rules (rules.hpp does). Only the client side is read, so no other line may
// come first (only servers send lines before their identification).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "passthru/sdk/bytes.hpp"

namespace passthru::ssh {

enum class BannerStatus : std::uint8_t {
  NeedMore,   ///< valid so far; `need_bytes` worth waiting for
  Complete,   ///< a whole identification line
  NotSsh,     ///< the bytes do not start with "SSH-"
  Malformed,  ///< "SSH-" then a broken or over-long line
  Truncated,  ///< EOF before the line ended
};

struct Banner {
  std::string_view protocol_version;  ///< "2.0", "1.99"; views the input
  std::string_view software_version;  ///< "OpenSSH_9.2p1"
  std::string_view comments;          ///< "Debian-2+deb12u10", or empty
};

struct BannerParse {
  BannerStatus status = BannerStatus::NeedMore;
  std::size_t need_bytes = 0;
  Banner banner;
};

inline constexpr std::size_t kMaxBannerLength = 255;  // RFC 4253 §4.2, CR LF included

BannerParse parse_banner(passthru::sdk::ByteSpan bytes, bool eof) noexcept;

}  // namespace passthru::ssh
