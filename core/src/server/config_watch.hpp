// ConfigWatch: notices that the config file was changed, for watch_config. It compares what
// stat(2) says of the file (following symbolic links) every time it is asked, about four times
// a second: an editor's save (a new file renamed over the old, or the same file rewritten) and a
// Kubernetes ConfigMap update (a symbolic link swapped to a new folder) all change the device,
// inode, size or modification time. A change counts once the file has stayed the same between
// two looks, so a file still being written is not read half-way.
#pragma once

#include <filesystem>
#include <optional>

#include "../config/file_version.hpp"

namespace passthru::core {

class ConfigWatch {
 public:
  explicit ConfigWatch(std::filesystem::path path) : path_(std::move(path)) { remember(); }

  /// Takes the file as it is now as the one loaded.
  void remember();
  /// True once when the file differs from the one loaded and has stayed the same since the last
  /// call; it is then taken as the one loaded.
  bool changed();

 private:
  std::filesystem::path path_;
  std::optional<FileVersion> loaded_;  ///< nullopt: there was no file
  std::optional<FileVersion> last_;
};

}  // namespace passthru::core
