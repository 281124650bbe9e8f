#include "plugin_registry.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <system_error>

#include "passthru_install_dirs.hpp"  // generated: kInstalledPluginDir (relative to the binary)

namespace passthru::core {

namespace fs = std::filesystem;

std::shared_ptr<passthru::sdk::Protocol> LoadedPlugin::create() const {
  passthru::sdk::Protocol* raw = descriptor->create();
  if (!raw) return nullptr;
  // The deleter keeps the library loaded for as long as the instance lives.
  auto keep = library;
  auto destroy = descriptor->destroy;
  return std::shared_ptr<passthru::sdk::Protocol>(raw, [keep, destroy](passthru::sdk::Protocol* p) {
    destroy(p);
  });
}

std::string PluginRegistry::load_file(const fs::path& path) {
  std::error_code fs_error;
  // Boost.DLL reports a missing file only as "Bad file descriptor": check first and say so.
  if (!fs::is_regular_file(path, fs_error))
    return path.string() + ": no such plugin file";
  // Boost.DLL reports a failed dlopen without dlerror's text (a missing symbol, a wrong
  // architecture): try it once ourselves to say what is really wrong.
  if (void* trial = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL); trial) {
    dlclose(trial);
  } else {
    const char* why = dlerror();
    return path.string() + ": cannot be loaded: " + (why ? why : "unknown dlopen error");
  }
  auto library = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  library->load(path, ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  if (ec) return path.string() + ": cannot be loaded: " + ec.message();

  const char* symbol = PASSTHRU_STRINGIFY(PASSTHRU_PLUGIN_SYMBOL);
  if (!library->has(symbol)) {
    if (library->has("passthru_plugin_abi")) {
      auto abi = library->get_alias<const std::uint32_t>("passthru_plugin_abi");
      return path.string() + ": built against passthru SDK ABI " + std::to_string(abi) +
             ", this passthru speaks ABI " + std::to_string(passthru::sdk::kAbiMajor) +
             ": rebuild the plugin against this SDK";
    }
    return path.string() + ": not a passthru plugin (it has no '" + symbol +
           "' export; a plugin ends with PASSTHRU_EXPORT_PROTOCOL)";
  }
  const auto& descriptor = library->get_alias<const passthru::sdk::PluginDescriptor>(symbol);
  if (descriptor.abi_major != passthru::sdk::kAbiMajor)
    return path.string() + ": built against passthru SDK ABI " + std::to_string(descriptor.abi_major) +
           ", this passthru speaks ABI " + std::to_string(passthru::sdk::kAbiMajor);
  if (std::string_view(descriptor.build_fingerprint) != passthru::sdk::kBuildFingerprint)
    return path.string() + ": built with another SDK or C++ library (plugin: " +
           descriptor.build_fingerprint + "; passthru: " + passthru::sdk::kBuildFingerprint +
           "): rebuild the plugin against this SDK";

  LoadedPlugin plugin{"", path, library, &descriptor};
  auto probe = plugin.create();
  if (!probe) return path.string() + ": the plugin could not create its protocol";
  plugin.name = std::string(probe->name());
  probe.reset();
  if (plugin.name.empty()) return path.string() + ": the plugin's protocol has an empty name";
  if (auto it = plugins_.find(plugin.name); it != plugins_.end()) {
    // The same file reached twice (say, plugin_dir naming the built-in folder) is no clash.
    if (fs::equivalent(it->second.path, path, fs_error)) return {};
    return path.string() + ": protocol '" + plugin.name + "' is already provided by " +
           it->second.path.string() + ": remove one of them";
  }
  plugins_.emplace(plugin.name, std::move(plugin));
  return {};
}

void PluginRegistry::load_directory(const fs::path& dir, std::vector<std::string>& errors) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    errors.push_back(dir.string() + ": plugin folder does not exist");
    return;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files)
    if (std::string why = load_file(file); !why.empty()) errors.push_back(why);
}

const LoadedPlugin* PluginRegistry::find(const std::string& name) const {
  auto it = plugins_.find(name);
  return it == plugins_.end() ? nullptr : &it->second;
}

std::string PluginRegistry::names() const {
  std::string out;
  for (const auto& [name, plugin] : plugins_) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

std::vector<fs::path> builtin_plugin_dirs() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  fs::path dir = exe.parent_path();
  std::vector<fs::path> dirs;
  for (const fs::path& candidate : {dir / "plugins", dir / kInstalledPluginDir}) {
    if (fs::is_directory(candidate, ec)) {
      dirs.push_back(fs::weakly_canonical(candidate, ec));
      break;  // a build tree's plugins win over an installed copy's
    }
  }
  return dirs;
}

}  // namespace passthru::core
