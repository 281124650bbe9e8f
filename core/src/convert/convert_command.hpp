// The `passthru convert` subcommand: prints a passthru (Go) JSON config as the TOML passthru
// runs for it (go_config.hpp), with a comment wherever passthru's behaviour differs, once the
// whole config has loaded (plugins and every rule checked), so that what it prints runs.
#pragma once

#include <CLI/CLI.hpp>

namespace passthru::core {

class ConvertCommand {
 public:
  /// Adds the subcommand and its argument to `app`.
  explicit ConvertCommand(CLI::App& app);
  [[nodiscard]] bool chosen() const { return command_->parsed(); }
  /// Runs it: 0 printed, 2 the config has errors (on stderr, file:line:column of the JSON).
  int run() const;

 private:
  CLI::App* command_;
  std::string json_path_;
};

}  // namespace passthru::core
