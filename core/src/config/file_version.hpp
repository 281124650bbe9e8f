// FileVersion: what stat(2) says of a file that changes when the file is replaced (a new inode,
// as install(1) or a rename gives) or rewritten in place (its size, its modification time). The
// config watch and the plugin loader use it to tell a new version of a file from the one loaded.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <optional>

namespace passthru::core {

struct FileVersion {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{};

  static FileVersion of(const struct stat& file) noexcept {
    return {file.st_dev, file.st_ino, file.st_size, file.st_mtim};
  }
  /// The file at `path` now (symbolic links followed); nullopt if there is none.
  static std::optional<FileVersion> at(const std::filesystem::path& path) noexcept {
    struct stat file{};
    if (::stat(path.c_str(), &file) != 0) return std::nullopt;
    return of(file);
  }
  bool operator==(const FileVersion& o) const noexcept {
    return device == o.device && inode == o.inode && size == o.size && modified.tv_sec == o.modified.tv_sec &&
           modified.tv_nsec == o.modified.tv_nsec;
  }
};

}  // namespace passthru::core
