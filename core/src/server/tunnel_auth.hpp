// The first message of a tunnel to a DEMUX rule: a control message whose body is the JSON
// array [id,"auth",{"tunnel":"NAME","token":"TOKEN"}] (what TunnelLink sends). Read from
// whoever connects, before any token is checked: reading only, no allocation, no escapes
// (tokens and tunnel names hold neither quotes nor backslashes, see tunnel_tokens.hpp).
#pragma once

#include <optional>
#include <string_view>

namespace passthru::core {

struct AuthRequest {
  std::string_view tunnel;  ///< the tunnel it asks to open; "" if the member is missing
  std::string_view token;   ///< the token it presents; "" if the member is missing
};

/// The request in `body`, views into it; nullopt if the body does not ask to "auth".
std::optional<AuthRequest> read_auth_request(std::string_view body) noexcept;

}  // namespace passthru::core
