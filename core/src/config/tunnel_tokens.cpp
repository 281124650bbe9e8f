#include "tunnel_tokens.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace passthru::core {

namespace {
constexpr std::size_t kMinToken = 16;
constexpr std::size_t kMaxToken = 256;

/// Equal in time that depends on the lengths only, never on where the first difference is.
bool equal_in_constant_time(std::string_view a, std::string_view b) noexcept {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::optional<std::string> read_whole(const std::filesystem::path& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path.string() + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

bool is_token_text(std::string_view token) noexcept {
  return token.size() >= kMinToken && token.size() <= kMaxToken &&
         std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7F && c != '"' && c != '\\'; });
}

const TokenGrant* TunnelTokens::find(std::string_view token) const noexcept {
  const TokenGrant* found = nullptr;
  for (const TokenGrant& grant : grants)  // no early exit
    if (equal_in_constant_time(grant.token, token) && !found) found = &grant;
  return found;
}

std::optional<TunnelTokens> read_tokens_file(const std::filesystem::path& path, std::string& error) {
  auto text = read_whole(path, error);
  if (!text) return std::nullopt;
  return parse_tokens(*text, path.string(), error);
}

std::optional<TunnelTokens> parse_tokens(std::string_view text, const std::string& origin, std::string& error) {
  TunnelTokens tokens;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    TokenGrant grant;
    if (!(words >> grant.token)) continue;  // blank
    if (!is_token_text(grant.token) || !(words >> grant.tunnel)) {
      error = origin + " line " + std::to_string(number) +
              ": a grant is TOKEN TUNNEL [NAME ...], the token 16 to 256 printable characters without quotes or backslashes";
      return std::nullopt;
    }
    for (std::string name; words >> name;) grant.names.push_back(name);
    tokens.grants.push_back(std::move(grant));
  }
  if (tokens.grants.empty()) {
    error = origin + " holds no token";
    return std::nullopt;
  }
  return tokens;
}

std::optional<std::string> read_token_file(const std::filesystem::path& path, std::string& error) {
  auto text = read_whole(path, error);
  if (!text) return std::nullopt;
  std::string token = *text;
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!token.empty() && blank(token.back())) token.pop_back();
  token.erase(token.begin(), std::find_if_not(token.begin(), token.end(), blank));
  if (!is_token_text(token)) {
    error = path.string() + " must hold one token: 16 to 256 printable characters without spaces, quotes or backslashes";
    return std::nullopt;
  }
  return token;
}

}  // namespace passthru::core
