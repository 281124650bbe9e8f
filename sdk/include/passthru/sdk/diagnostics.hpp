// Diagnostics: the messages a plugin gives back when it refuses part of its configuration.
// It carries positions in the config file, not file names: the host knows which file it read
// and prints every message as `file:line:column: error: message`. It is not a logger.
#pragma once

#include "passthru/sdk/requires_cxx20.hpp"  // first: one clear line for an older -std

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace passthru::sdk {

/// A 1-based line and column in the config file; 0 means "unknown".
struct SourcePosition {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

struct Diagnostic {
  SourcePosition where;
  std::string message;
};

/// Collects every error of a configuration step, so a user sees them all at once.
class Diagnostics {
 public:
  void error(SourcePosition where, std::string message) {
    errors_.push_back(Diagnostic{where, std::move(message)});
  }
  [[nodiscard]] bool empty() const noexcept { return errors_.empty(); }
  [[nodiscard]] const std::vector<Diagnostic>& all() const noexcept { return errors_; }

 private:
  std::vector<Diagnostic> errors_;
};

}  // namespace passthru::sdk
