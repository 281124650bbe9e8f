// libFuzzer target for what a tunnel to a DEMUX rule reads before it trusts anyone: the
// operator's tokens file and the first message's auth request. The input is a tokens file's
// text, a NUL byte, then the auth message's body. Never a crash; a grant is found only for a
// token it holds, byte for byte, and only tokens of the documented form are ever granted.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/tunnel_tokens.hpp"
#include "server/tunnel_auth.hpp"

namespace {
void fail(const char* what) {
  std::fprintf(stderr, "%s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t nul = input.find('\0');
  std::string_view file = input.substr(0, nul);
  std::string_view body = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  std::string error;
  auto tokens = passthru::core::parse_tokens(file, "fuzz", error);
  if (!tokens) {
    if (error.empty()) fail("refused without an error");
  } else {
    for (const auto& grant : tokens->grants)
      if (!passthru::core::is_token_text(grant.token) || grant.tunnel.empty()) fail("a grant of the wrong form");
  }
  auto request = passthru::core::read_auth_request(body);
  if (!request) return 0;
  auto inside = [&](std::string_view part) {
    return part.empty() || (part.data() >= body.data() && part.data() + part.size() <= body.data() + body.size());
  };
  if (!inside(request->token) || !inside(request->tunnel)) fail("a view outside the body");
  if (tokens) {
    const auto* grant = tokens->find(request->token);
    if (grant && grant->token != request->token) fail("a grant for another token");
  }
  return 0;
}
