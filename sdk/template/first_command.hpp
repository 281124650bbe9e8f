// parse_first_command: the name of the command a Redis client sends first, from its first bytes.
// A client sends each command as a RESP array of bulk strings, the first being the command's
// name (Redis protocol spec, "Sending commands to a Redis server"):
//   *<count>\r\n$<length>\r\n<name>\r\n ...
// Only that much is read: the arguments after the name are not. Inline commands (`PING\r\n`,
// typed by hand over telnet) are not recognised. It knows nothing of rules.
#pragma once

#include <cstddef>
#include <string_view>

#include "passthru/sdk/bytes.hpp"

namespace redis {

/// The longest command name read (the longest Redis command is far shorter).
inline constexpr std::size_t kMaxNameLength = 64;

struct FirstCommand {
  enum class Status { NeedMore, NotRedis, Malformed, Command };
  Status status = Status::NeedMore;
  std::size_t need_bytes = 0;  ///< NeedMore: the total to wait for
  std::string_view name;       ///< Command: as sent (a view into the bytes)
};

FirstCommand parse_first_command(passthru::sdk::ByteSpan bytes) noexcept;

}  // namespace redis
