// PluginRegistry: loads detector plugins (.so files) with Boost.DLL and makes Protocol
// instances from them. It refuses, naming the file and the reason, a library that is not a
// passthru plugin, was built for another SDK ABI or fingerprint, or clashes by name with one
// already loaded. Every instance holds its library alive, so a library is never unloaded
// under an object it made. It knows nothing of the config's rules.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "passthru/sdk/export.hpp"

namespace boost::dll {
class shared_library;
}

namespace passthru::core {

struct LoadedPlugin {
  std::string name;  ///< the protocol's table name, e.g. "TLS"
  std::filesystem::path path;
  std::shared_ptr<boost::dll::shared_library> library;
  const passthru::sdk::PluginDescriptor* descriptor = nullptr;

  /// A fresh, unconfigured instance, or nullptr if the plugin could not make one.
  [[nodiscard]] std::shared_ptr<passthru::sdk::Protocol> create() const;
};

class PluginRegistry {
 public:
  /// Loads one library. Returns "" or "PATH: why it was refused".
  std::string load_file(const std::filesystem::path& path);

  /// Loads every *.so directly in `dir`, in name order; appends one message per refusal.
  void load_directory(const std::filesystem::path& dir, std::vector<std::string>& errors);

  [[nodiscard]] const LoadedPlugin* find(const std::string& name) const;
  [[nodiscard]] std::string names() const;  ///< "HTTP, TLS" for messages
  [[nodiscard]] const std::map<std::string, LoadedPlugin>& all() const { return plugins_; }

 private:
  std::map<std::string, LoadedPlugin> plugins_;
};

/// Where the built-in plugins are: beside the binary in a build tree (build/plugins), or the
/// installed folder (PREFIX/lib/passthru/plugins) for an installed binary.
std::vector<std::filesystem::path> builtin_plugin_dirs();

}  // namespace passthru::core
