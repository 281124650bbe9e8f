#include "redis_protocol.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "first_command.hpp"
#include "passthru/sdk/export.hpp"
#include "passthru/sdk/rule_key.hpp"

namespace redis {

namespace sdk = passthru::sdk;

namespace {

constexpr std::string_view kMatchers[] = {"COMMAND"};
constexpr sdk::RuleKeySyntax kSyntax{"REDIS", kMatchers, {}, "'COMMAND name'"};

bool is_name_byte(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '|'; }

}  // namespace

void RedisProtocol::apply_rules(std::span<const sdk::RuleKey> rules, sdk::Diagnostics& diagnostics) {
  catchall_ = sdk::read_rule_keys(rules, kSyntax, diagnostics, [&](const sdk::MatcherKey& key) {
    std::string name;
    for (char c : key.value) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (name.size() > kMaxNameLength || !std::all_of(name.begin(), name.end(), is_name_byte))
      return key.refuse("a command name is 1 to 64 letters, digits, '_', '-' or '|'");
    if (!by_name_.emplace(name, key.index).second) key.refuse("another rule already names " + name);
  });
}

sdk::Verdict RedisProtocol::identify(const sdk::ConnView& view) const noexcept {
  FirstCommand first = parse_first_command(view.bytes);
  switch (first.status) {
    case FirstCommand::Status::NeedMore:
      // Decided on the total the command needs, never on how full the buffer is now: the same
      // bytes always give the same answer, however TCP split them.
      if (first.need_bytes > view.capacity) return sdk::Verdict::no_match(sdk::NoMatchReason::TooLarge);
      if (view.eof) return sdk::Verdict::no_match(sdk::NoMatchReason::Truncated);
      return sdk::Verdict::need_more(first.need_bytes);
    case FirstCommand::Status::NotRedis: return sdk::Verdict::no_match(sdk::NoMatchReason::NotThisProtocol);
    case FirstCommand::Status::Malformed: return sdk::Verdict::no_match(sdk::NoMatchReason::Malformed);
    case FirstCommand::Status::Command: break;
  }
  std::array<char, kMaxNameLength> upper{};
  std::size_t length = std::min(first.name.size(), upper.size());  // the parser allows no more
  for (std::size_t i = 0; i < length; ++i)
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(first.name[i])));
  std::string_view name(upper.data(), length);
  auto rule = by_name_.find(name);
  auto verdict = sdk::Verdict::match(rule != by_name_.end() ? rule->second : catchall_.value_or(sdk::kNoRule));
  verdict.facts.add("command", name);  // client bytes: the host escapes them in the log
  return verdict;
}

}  // namespace redis

PASSTHRU_EXPORT_PROTOCOL(redis::RedisProtocol)
