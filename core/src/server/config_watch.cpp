#include "config_watch.hpp"

namespace passthru::core {

bool ConfigWatch::Look::operator==(const Look& other) const noexcept {
  return exists == other.exists && device == other.device && inode == other.inode && size == other.size &&
         modified.tv_sec == other.modified.tv_sec && modified.tv_nsec == other.modified.tv_nsec;
}

ConfigWatch::Look ConfigWatch::look() const {
  struct stat file{};
  if (::stat(path_.c_str(), &file) != 0) return {};
  return {true, file.st_dev, file.st_ino, file.st_size, file.st_mtim};
}

void ConfigWatch::remember() { loaded_ = last_ = look(); }

bool ConfigWatch::changed() {
  Look now = look();
  bool settled = now == last_;
  last_ = now;
  // A file gone for a moment (replaced by a rename, or a link swapped) is not a change to load.
  if (!now.exists || !settled || now == loaded_) return false;
  loaded_ = now;
  return true;
}

}  // namespace passthru::core
