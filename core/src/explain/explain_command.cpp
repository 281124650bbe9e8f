#include "explain_command.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "../plugin_host/plugin_registry.hpp"
#include "explain.hpp"

namespace passthru::core {

ExplainCommand::ExplainCommand(CLI::App& app) {
  command_ = app.add_subcommand("explain", "read a captured first flight and tell which rule passthru would apply, and why");
  command_->add_option("-c,--config", config_path_, "the config file")->required();
  command_->add_option("--listener", listener_, "the listener, as its key is written (\"0.0.0.0:443\"); may be left out "
                                                "when the config has one");
  command_->add_option("--from", from_, "the client's address (for from / not_from and PROXY FROM rules)")
      ->capture_default_str();
  command_->add_flag("--hex", hex_, "the capture is a hex dump (whitespace, 0x, ':' and # comments are ignored)");
  command_->add_option("--split", split_, "also prove the decision is the same at every cut into N-byte segments")
      ->check(CLI::Range(1, 1 << 20));
  command_->add_option("capture", capture_, "the client's first bytes: a file, or - for stdin")->capture_default_str();
}

int ExplainCommand::run() const {
  std::string why;
  auto client = parse_endpoint(from_.find(':') == std::string::npos ? from_ + ":0" : "[" + from_ + "]:0", false,
                               PortRule::AllowZero, why);
  if (!client) {
    std::fprintf(stderr, "passthru explain: --from %s is not an IP address\n", from_.c_str());
    return 2;
  }
  std::string bytes;
  if (capture_ == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(capture_, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "passthru explain: cannot read %s\n", capture_.c_str());
      return 2;
    }
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (hex_) {
    auto decoded = parse_hex_dump(bytes);
    if (!decoded) {
      std::fprintf(stderr, "passthru explain: %s is not a hex dump\n", capture_.c_str());
      return 2;
    }
    bytes = std::move(*decoded);
  }
  PluginRegistry plugins;
  std::vector<std::string> errors;
  auto config = load_config(config_path_, plugins, errors);
  if (!config) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 2;
  }
  ExplainRequest request{listener_, IpAddress::from(client->address), split_};
  std::string out;
  int status = explain(*config, request,
                       {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, out);
  std::fputs(out.c_str(), status == 2 ? stderr : stdout);
  return status;
}

}  // namespace passthru::core
