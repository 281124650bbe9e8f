// passthru's command line: read the config, then either check it (--check) or run it.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "command_line/go_flags.hpp"
#include "config/config.hpp"
#include "config/overrides.hpp"
#include "convert/convert_command.hpp"
#include "explain/explain_command.hpp"
#include "passthru_version.hpp"  // generated: kPassthruVersion
#include "passthru/sdk/version.hpp"
#include "plugin_host/plugin_check.hpp"
#include "plugin_host/plugin_registry.hpp"
#include "server/server.hpp"

namespace {
constexpr int kExitConfigError = 2;
}

int main(int argc, char** argv) {
  CLI::App app{"passthru: many services on one port. Detects each connection's protocol from its "
               "first bytes and forwards or rejects it by the rules of a TOML config (or of a passthru (Go) "
               "JSON config, a file named *.json)."};
  std::string config_path = "/etc/passthru/passthru.toml";
  bool check_only = false;
  passthru::core::CommandLineOverrides overrides;
  app.add_option("-c,--config", config_path, "the config file: TOML, or a passthru (Go) config if named *.json")
      ->capture_default_str();
  app.add_flag("--check", check_only, "load the config and plugins, report, and exit (0 = valid, 2 = not)");
  app.add_option("-l,--log-level", overrides.log_level, "override the config's log_level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  // passthru (Go)'s -w and -t, which it parsed but did not use: here they mean what their
  // names promised, the number of workers and how long a connection may take to be detected.
  unsigned workers = 0;
  auto* workers_option =
      app.add_option("-w,--workers", workers, "override the config's workers (event loops; 0 = one per CPU core)")
          ->check(CLI::Range(0, 256));
  std::string timeout;
  app.add_option("-t,--timeout", timeout, "override every listener's timeout_ms: seconds (5, 2.5) or a duration "
                                          "(500ms, 1m30s)")
      ->check([](const std::string& text) {
        std::string why;
        return passthru::core::parse_go_timeout(text, why) ? std::string() : why;
      });
  std::vector<std::string> check_plugin;
  app.add_option("--check-plugin", check_plugin,
                 "load one plugin and feed it every file of a corpus byte by byte, without and with EOF, "
                 "reporting each input on which its answer broke the SDK contract (0 = held, 1 = broke, "
                 "2 = not loadable); the default corpus is passthru's own client captures")
      ->expected(1, 2)
      ->type_name("FILE.so [CORPUS_DIR]");
  app.set_version_flag("-V,--version", std::string("passthru ") + passthru::kPassthruVersion + "\nSDK ABI " +
                                           std::to_string(passthru::sdk::kAbiMajor) + ", build fingerprint " +
                                           passthru::sdk::kBuildFingerprint);
  passthru::core::ExplainCommand explain(app);  // passthru explain -c FILE [--listener A] [--from IP] CAPTURE
  passthru::core::ConvertCommand convert(app);  // passthru convert FILE.json
  // -c=FILE, --w 4, -t=5s: the forms passthru (Go) documented, as CLI11 reads them.
  std::vector<std::string> arguments = passthru::core::go_style_arguments(argc, argv);
  std::vector<char*> go_argv;
  for (std::string& argument : arguments) go_argv.push_back(argument.data());
  try {
    app.parse(static_cast<int>(go_argv.size()), go_argv.data());
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; a misused command line exits 2, as a bad config does
    // (CLI11's own codes, 105 and up, would read as a signal's to a shell or systemd).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (explain.chosen()) return explain.run();
  if (convert.chosen()) return convert.run();
  if (workers_option->count()) overrides.workers = workers;
  if (!timeout.empty()) {
    std::string why;
    overrides.timeout_ms = passthru::core::parse_go_timeout(timeout, why);
  }
  if (!check_plugin.empty()) return passthru::core::check_plugin_command(check_plugin);

  passthru::core::PluginRegistry plugins;
  std::vector<std::string> errors;
  std::vector<std::string> notes;  // a passthru (Go) config's: where passthru's own rules decide
  auto config = passthru::core::load_config(config_path, plugins, errors, &notes);
  for (const auto& note : notes) std::fprintf(stderr, "%s\n", note.c_str());
  if (!config) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    std::fprintf(stderr, "passthru: %zu error%s in %s; nothing was started\n", errors.size(),
                 errors.size() == 1 ? "" : "s", config_path.c_str());
    return kExitConfigError;
  }
  passthru::core::apply_overrides(overrides, *config);
  if (check_only) {
    std::printf("%s: OK (%zu listener%s; plugins: ", config_path.c_str(), config->servers.size(),
                config->servers.size() == 1 ? "" : "s");
    bool first = true;
    for (const auto& [name, plugin] : plugins.all()) {
      std::printf("%s%s from %s", first ? "" : ", ", name.c_str(), plugin.path.c_str());
      first = false;
    }
    std::printf(")\n");
    return 0;
  }

  // Its format, level and file are the config's (log_settings.hpp), set as the server starts.
  spdlog::set_default_logger(spdlog::stderr_color_mt("passthru"));
  signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an error code, not a signal
  return passthru::core::run_server(std::make_shared<const passthru::core::Config>(std::move(*config)), overrides);
}
