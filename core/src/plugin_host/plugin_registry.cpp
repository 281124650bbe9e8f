#include "plugin_registry.hpp"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <fstream>
#include <mutex>
#include <cstring>
#include <system_error>

#include "../config/file_version.hpp"
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

namespace {

/// What the process has loaded of one plugin path. Kept for the process's lifetime, since a
/// library may stay loaded after its last user is gone (one with unique symbols is never
/// unloaded by glibc).
struct LoadedFile {
  FileVersion by_path;  ///< the version dlopen(path) gives while it is loaded
  FileVersion latest_version;
  std::weak_ptr<boost::dll::shared_library> latest;  ///< for a registry loading the same file again
};
std::mutex loaded_files_lock;
std::map<std::string, LoadedFile> loaded_files;

/// A private copy of `path` in an anonymous file, for loading a new version of a library whose
/// old version is still loaded from `path`. Its /proc/self/fd name becomes the library's name,
/// and dlopen would hand that library back for the same name later, even once unloaded by us
/// (glibc keeps a library with unique symbols loaded for good): so the descriptor is never
/// closed, one per plugin version installed while passthru runs, and its name never reused.
int copy_to_memory(const fs::path& path) {
  int fd = memfd_create(("passthru-plugin:" + path.filename().string()).c_str(), MFD_CLOEXEC);
  if (fd < 0) return -1;
  std::ifstream in(path, std::ios::binary);
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    for (std::streamsize done = 0; done < in.gcount();) {
      ssize_t written = ::write(fd, buffer + done, static_cast<std::size_t>(in.gcount() - done));
      if (written <= 0) {
        ::close(fd);
        return -1;
      }
      done += written;
    }
  }
  if (in.bad()) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Loads the library at `path`, of version `now`, into `library`: from the path itself, or from
/// a copy when dlopen would give an older version still loaded. Returns "" or why it failed.
std::string load_library(const fs::path& path, const FileVersion& now, LoadedFile& known,
                         std::shared_ptr<boost::dll::shared_library>& library) {
  fs::path load_from = path;
  int copy = -1;
  void* loaded = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (loaded) dlclose(loaded);
  if (loaded && !(known.by_path == now)) {
    copy = copy_to_memory(path);
    if (copy < 0) return path.string() + ": cannot copy the new version to load it: " + std::strerror(errno);
    load_from = "/proc/self/fd/" + std::to_string(copy);
  }
  // Boost.DLL reports a failed dlopen without dlerror's text (a missing symbol, a wrong
  // architecture): try it once ourselves to say what is really wrong.
  if (void* trial = dlopen(load_from.c_str(), RTLD_NOW | RTLD_LOCAL); trial) {
    dlclose(trial);
  } else {
    const char* why = dlerror();
    if (copy >= 0) ::close(copy);  // nothing was loaded by its name
    return path.string() + ": cannot be loaded: " + (why ? why : "unknown dlopen error");
  }
  library = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  library->load(load_from, ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  if (ec) {
    library.reset();
    return path.string() + ": cannot be loaded: " + ec.message();
  }
  if (copy < 0) known.by_path = now;
  known.latest_version = now;
  known.latest = library;
  return {};
}

/// The value of `name` in a fingerprint "name=value;name=value", or "" if it has none.
std::string_view fingerprint_field(std::string_view fingerprint, std::string_view name) {
  while (!fingerprint.empty()) {
    std::string_view field = fingerprint.substr(0, fingerprint.find(';'));
    if (field.size() > name.size() && field.substr(0, name.size()) == name && field[name.size()] == '=')
      return field.substr(name.size() + 1);
    fingerprint.remove_prefix(std::min(fingerprint.size(), field.size() + 1));
  }
  return {};
}

/// What a plugin's build differs in from passthru's, first the difference a rebuild must undo.
std::string fingerprint_difference(std::string_view plugin) {
  std::string_view host = passthru::sdk::kBuildFingerprint;
  std::string_view mode = fingerprint_field(plugin, "stdlib-mode");
  if (mode != fingerprint_field(host, "stdlib-mode")) {
    if (mode == "debug")
      return "built with the C++ library's debug mode (-D_GLIBCXX_DEBUG), which changes the layout of "
             "std::string and std::vector; passthru was not: rebuild the plugin without -D_GLIBCXX_DEBUG";
    return "built without the C++ library's debug mode; this passthru was built with -D_GLIBCXX_DEBUG: "
           "rebuild the plugin with the same flags";
  }
  if (fingerprint_field(plugin, "stdlib") != fingerprint_field(host, "stdlib"))
    return "built with another C++ library ABI: rebuild the plugin with passthru's compiler and C++ library";
  return "built against other SDK headers: rebuild the plugin against this passthru's SDK";
}

}  // namespace

std::string PluginRegistry::load_file(const fs::path& path) {
  std::error_code fs_error;
  // Boost.DLL reports a missing file only as "Bad file descriptor": check first and say so.
  std::optional<FileVersion> version = FileVersion::at(path);
  if (!fs::is_regular_file(path, fs_error) || !version) return path.string() + ": no such plugin file";
  // dlopen hands back a library already loaded from the same path, even when the file has been
  // replaced since (a reload after an upgrade): a new version is loaded from a copy instead,
  // and the old one stays loaded for as long as objects it made are alive.
  std::lock_guard guard(loaded_files_lock);
  LoadedFile& known = loaded_files[path.string()];
  const FileVersion& now = *version;
  std::shared_ptr<boost::dll::shared_library> library;
  if (known.latest_version == now) library = known.latest.lock();
  if (!library) {
    std::string why = load_library(path, now, known, library);
    if (!why.empty()) return why;
  }

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
    return path.string() + ": " + fingerprint_difference(descriptor.build_fingerprint) + " (plugin: " +
           descriptor.build_fingerprint + "; passthru: " + passthru::sdk::kBuildFingerprint + ")";

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
