// The `passthru explain` subcommand: its command line, and reading the capture (a file or
// stdin, raw or a hex dump) before explain() tells what passthru would decide for it.
#pragma once

#include <CLI/CLI.hpp>

namespace passthru::core {

class ExplainCommand {
 public:
  /// Adds the subcommand and its options to `app`.
  explicit ExplainCommand(CLI::App& app);
  /// Whether the command line chose it.
  [[nodiscard]] bool chosen() const { return command_->parsed(); }
  /// Runs it: 0 explained, 1 the decision depends on the split, 2 a config or usage error.
  int run() const;

 private:
  CLI::App* command_;
  std::string config_path_;
  std::string listener_;
  std::string from_ = "127.0.0.1";
  std::string capture_ = "-";
  bool hex_ = false;
  std::size_t split_ = 0;
};

}  // namespace passthru::core
