#include "convert_command.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>

#include "../config/config.hpp"
#include "../config/go_config.hpp"
#include "../plugin_host/plugin_registry.hpp"

namespace passthru::core {

ConvertCommand::ConvertCommand(CLI::App& app) {
  command_ = app.add_subcommand("convert", "print a passthru (Go) JSON config as passthru's TOML, with a comment "
                                           "where behaviour differs (passthru convert config.json > config.toml)");
  command_->add_option("config", json_path_, "the JSON config (*.json)")->required();
}

int ConvertCommand::run() const {
  if (!is_json_config(json_path_)) {
    std::fprintf(stderr, "passthru convert: %s: convert reads a passthru (Go) JSON config, a file named *.json\n",
                 json_path_.c_str());
    return 2;
  }
  // The loader reads the file through the same translation, and reports every error in it.
  PluginRegistry plugins;
  std::vector<std::string> errors;
  if (!load_config(json_path_, plugins, errors)) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    std::fprintf(stderr, "passthru convert: %zu error%s in %s; nothing was written\n", errors.size(),
                 errors.size() == 1 ? "" : "s", json_path_.c_str());
    return 2;
  }
  std::ifstream in(json_path_, std::ios::binary);
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<JsonDiagnostic> unused;
  auto translation = translate_go_config(json, std::filesystem::path(json_path_).filename().string(), unused);
  if (!translation) return 2;  // the file changed since it loaded
  std::fputs(translation->toml.c_str(), stdout);
  return 0;
}

}  // namespace passthru::core
