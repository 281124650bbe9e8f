#include "config_watch.hpp"

namespace passthru::core {

void ConfigWatch::remember() { loaded_ = last_ = FileVersion::at(path_); }

bool ConfigWatch::changed() {
  std::optional<FileVersion> now = FileVersion::at(path_);
  bool settled = now == last_;
  last_ = now;
  // A file gone for a moment (replaced by a rename, or a link swapped) is not a change to load.
  if (!now || !settled || now == loaded_) return false;
  loaded_ = now;
  return true;
}

}  // namespace passthru::core
