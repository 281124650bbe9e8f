// RedisProtocol: the REDIS table. Routes a Redis client by the first command it sends
// (first_command.hpp): `COMMAND name` (any case, as Redis reads names) or CATCHALL. The fact
// `command` (the name, upper-cased) goes into the log line. It never touches a socket.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "passthru/sdk/protocol.hpp"

namespace redis {

class RedisProtocol final : public passthru::sdk::Protocol {
 public:
  [[nodiscard]] std::string_view name() const noexcept override { return "REDIS"; }
  void apply_rules(std::span<const passthru::sdk::RuleKey> rules, passthru::sdk::Diagnostics& diagnostics) override;
  [[nodiscard]] passthru::sdk::Verdict identify(const passthru::sdk::ConnView& view) const noexcept override;

 private:
  std::map<std::string, std::uint32_t, std::less<>> by_name_;  // upper-cased name -> rule index
  std::optional<std::uint32_t> catchall_;
};

}  // namespace redis
