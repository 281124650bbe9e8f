// ProcessMetrics: what the metrics endpoint says of the process as a whole: readiness, reloads,
// the plugins the running config loaded. Written by the thread that takes signals, read by the
// endpoint's.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "../config/config.hpp"

namespace passthru::core {

struct ProcessMetrics {
  std::atomic<bool> ready{true};  ///< false once draining: /ready answers 503
  std::atomic<std::uint64_t> reloads_succeeded{0};
  std::atomic<std::uint64_t> reloads_failed{0};
  std::atomic<double> config_loaded_at{0};  ///< seconds since the epoch: the start, or the last reload that worked
  std::atomic<bool> last_reload_ok{true};

  void set_plugins(std::vector<Config::Plugin> plugins) {
    std::lock_guard guard(lock_);
    plugins_ = std::move(plugins);
  }
  std::vector<Config::Plugin> plugins() const {
    std::lock_guard guard(lock_);
    return plugins_;
  }

 private:
  mutable std::mutex lock_;
  std::vector<Config::Plugin> plugins_;
};

}  // namespace passthru::core
