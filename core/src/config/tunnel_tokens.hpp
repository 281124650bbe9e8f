// Tunnel tokens: who may open an M-PROXY tunnel to a DEMUX rule (its tokens_file), and the
// token a dialling tunnel presents (its token_file). A tokens file holds one grant a line:
//   TOKEN  TUNNEL  [NAME ...]      # the tunnel it opens, and the names it may register
// with blank lines and '#' comments ignored. A token is 16 to 256 printable ASCII characters
// without spaces, quotes or backslashes, so that it travels in a JSON string unescaped.
// Reading and checking only: the DEMUX endpoint (server/tunnel.cpp) asks for it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passthru::core {

struct TokenGrant {
  std::string token;
  std::string tunnel;               ///< the name of the tunnel it opens
  std::vector<std::string> names;   ///< the names it may register (reverse tunnels)
};

struct TunnelTokens {
  std::vector<TokenGrant> grants;
  /// The grant whose token is `token`, or nullptr. Every grant is compared, each over every
  /// byte, so the time taken does not say how much of a token was right, nor which grant matched.
  [[nodiscard]] const TokenGrant* find(std::string_view token) const noexcept;
};

/// Whether `token` may be a token (the form above).
bool is_token_text(std::string_view token) noexcept;

/// Reads a tokens file; nullopt with `error` set ("line N: ..." or why it cannot be read).
std::optional<TunnelTokens> read_tokens_file(const std::filesystem::path& path, std::string& error);

/// Reads a tokens file's text; `origin` names it in `error` ("ORIGIN line N: ...").
std::optional<TunnelTokens> parse_tokens(std::string_view text, const std::string& origin, std::string& error);

/// Reads a token file (one token; surrounding whitespace ignored); nullopt with `error` set.
std::optional<std::string> read_token_file(const std::filesystem::path& path, std::string& error);

}  // namespace passthru::core
