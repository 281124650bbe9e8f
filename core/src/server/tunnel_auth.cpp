#include "tunnel_auth.hpp"

namespace passthru::core {

namespace {
/// The value of the JSON string member `quoted_key:"..."` in `body` (the key given with its
/// quotes), or "".
std::string_view string_member(std::string_view body, std::string_view quoted_key) noexcept {
  std::size_t at = body.find(quoted_key);
  if (at == std::string_view::npos) return {};
  at += quoted_key.size();
  auto skip_blanks = [&] {
    while (at < body.size() && (body[at] == ' ' || body[at] == '\t' || body[at] == '\n' || body[at] == '\r')) ++at;
  };
  skip_blanks();
  if (at >= body.size() || body[at++] != ':') return {};
  skip_blanks();
  if (at >= body.size() || body[at++] != '"') return {};
  std::size_t end = body.find('"', at);
  return end == std::string_view::npos ? std::string_view() : body.substr(at, end - at);
}
}  // namespace

std::optional<AuthRequest> read_auth_request(std::string_view body) noexcept {
  if (body.find("\"auth\"") == std::string_view::npos) return std::nullopt;
  return AuthRequest{string_member(body, "\"tunnel\""), string_member(body, "\"token\"")};
}

}  // namespace passthru::core
