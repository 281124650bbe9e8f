#include "server.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <ctime>
#include <future>
#include <memory>
#include <thread>

#include "../metrics/exposition.hpp"
#include "../metrics/metrics_endpoint.hpp"
#include "../metrics/process_metrics.hpp"
#include "../plugin_host/plugin_registry.hpp"
#include "config_watch.hpp"
#include "listening_sockets.hpp"
#include "log_settings.hpp"
#include "transparent.hpp"
#include "worker.hpp"
#include "privileges.hpp"

namespace passthru::core {

namespace {

// Below this, libuv cannot even make its own descriptors (and aborts): say so instead.
constexpr rlim_t kLeastDescriptors = 16;
// How often the signal-taking thread looks up from sigtimedwait: to see the workers' end while
// draining, and the config file's change with watch_config.
constexpr long kLookEveryNs = 250'000'000;

const char* signal_name(int number) {
  switch (number) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
  }
  return "a signal";
}

std::size_t count_rules(const Config& config) {
  std::size_t rules = 0;
  for (const ServerConfig& server : config.servers) {
    for (const ProtocolTable& table : server.protocols) rules += table.actions.size();
    if (server.catchall) ++rules;
  }
  return rules;
}

/// The running server: its workers, the listening sockets they share, and the config in force.
/// It lives on the thread that takes signals, which is the only one that loads configs.
class Server {
 public:
  Server(std::shared_ptr<const Config> config, CommandLineOverrides overrides)
      : config_(std::move(config)),
        overrides_(std::move(overrides)),
        workers_count_(config_->workers ? config_->workers : std::max(1u, std::thread::hardware_concurrency())),
        limits_(config_->max_connections),
        watch_(config_->path) {}

  int run();

 private:
  bool start(rlim_t files);
  /// Serves [metrics] if the config asks for it; false (said on stderr) if it cannot listen.
  bool start_metrics();
  /// The running config is now `config_` (at start, or after a reload): the metrics say so.
  void note_loaded();
  /// Loads the config file anew; on success every worker takes it, else nothing changes.
  void reload(const char* why);
  /// Says, on stdout where scripts look for it, where each listener opened since the last call listens.
  void say_listening(const std::vector<OpenListener>& listeners) const;
  /// SIGINT or SIGTERM came: drain, or stop at once on a second one.
  void drain(int first_signal);

  std::shared_ptr<const Config> config_;
  CommandLineOverrides overrides_;
  unsigned workers_count_;
  ConnectionLimits limits_;  // every worker's; outlives them
  std::vector<OpenListener> listeners_;
  std::vector<std::unique_ptr<Worker>> workers_;
  ConfigWatch watch_;
  sigset_t signals_{};
  ProcessMetrics process_metrics_;  // read by metrics_; declared first, so it outlives it
  std::unique_ptr<MetricsEndpoint> metrics_;
};

int Server::run() {
  // Each connection needs two descriptors, and its relay a pipe (two more) while bytes wait. The
  // soft limit is often 1,024 where the hard one allows far more: use all that is allowed.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (files.rlim_cur < kLeastDescriptors) {
    std::fprintf(stderr, "passthru: the open-files limit is %llu; passthru needs at least %llu\n",
                 static_cast<unsigned long long>(files.rlim_cur), static_cast<unsigned long long>(kLeastDescriptors));
    return 1;
  }

  // libuv makes its process-wide descriptors (a signal pipe) with the first loop, and aborts if
  // it cannot: make them now, while descriptors are free, so that running out later is an
  // error each worker can report.
  {
    uv_loop_t first;
    if (uv_loop_init(&first) == 0) uv_loop_close(&first);
  }

  // Signals are taken by this thread alone, with sigtimedwait; workers never see them. Blocked
  // before "listening" is printed, so a signal sent as soon as that line is read is handled.
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGHUP);
  sigaddset(&signals_, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);

  if (std::string error = apply_log_settings(*config_, overrides_.log_level); !error.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  if (std::string refused = check_source_capability(*config_); !refused.empty()) {
    std::fprintf(stderr, "%s\n", refused.c_str());
    return 1;
  }

  if (!start(files.rlim_cur)) return 1;
  note_loaded();
  std::vector<std::thread> threads;
  for (auto& worker : workers_) threads.emplace_back([&worker] { worker->run(); });

  timespec look_every{0, kLookEveryNs};
  for (;;) {
    int number = sigtimedwait(&signals_, nullptr, &look_every);
    if (number == SIGINT || number == SIGTERM) {
      drain(number);
      break;
    }
    if (number == SIGHUP) {
      reload("SIGHUP");
    } else if (number == SIGUSR1) {
      if (std::string error = reopen_log_file(*config_); !error.empty()) spdlog::error("{}", error);
      else spdlog::info("received SIGUSR1: log file opened again");
    }
    else if (config_->watch_config && watch_.changed()) reload("the file changed");
  }
  for (auto& thread : threads) thread.join();
  metrics_.reset();  // it reads the workers' counts
  workers_.clear();
  return 0;
}

bool Server::start_metrics() {
  if (!config_->metrics_listen) return true;
  std::vector<const WorkerMetrics*> counts;
  for (auto& worker : workers_) counts.push_back(&worker->metrics());
  MetricsEndpoint::Answers answers{
      [this, counts] { return render_metrics(counts, process_metrics_); },
      [this] { return process_metrics_.ready.load(); }};
  std::string error;
  metrics_ = MetricsEndpoint::start(*config_->metrics_listen, std::move(answers), error);
  if (!metrics_) {
    std::fprintf(stderr, "%s\n",
                 format_error(config_->path, config_->metrics_where,
                              "cannot serve metrics on " + config_->metrics_listen->to_string() + ": " + error)
                     .c_str());
    return false;
  }
  std::printf("passthru: serving metrics on %s (/metrics, /ready, /live)\n", metrics_->name().c_str());
  return true;
}

void Server::note_loaded() {
  process_metrics_.set_plugins(config_->plugins);
  process_metrics_.config_loaded_at = std::chrono::duration<double>(
      std::chrono::system_clock::now().time_since_epoch()).count();
}

bool Server::start(rlim_t files) {
  std::string error;
  auto listeners = open_listeners(*config_, workers_count_, {}, error);
  if (!listeners) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return false;
  }
  listeners_ = std::move(*listeners);
  // Bound and loaded as root: become the config's user now, before any worker thread starts and
  // before saying "listening". CAP_NET_ADMIN stays only if this config needs it (transparent
  // mode): a reload cannot add it back.
  if (!run_as_configured_user(*config_, needs_net_admin(*config_))) return false;
  for (unsigned w = 0; w < workers_count_; ++w) {
    auto worker = Worker::open(config_, plan_for(w, *config_, listeners_), limits_, error);
    if (!worker) {  // out of descriptors, most likely: nothing has started yet
      std::fprintf(stderr, "passthru: cannot start worker %u of %u: %s (open-files limit: %llu)\n", w + 1,
                   workers_count_, error.c_str(), static_cast<unsigned long long>(files));
      for (unsigned later = w + 1; later < workers_count_; ++later)
        for (const OpenListener& listener : listeners_)
          if (later < listener.fds.size()) ::close(listener.fds[later]);
      return false;
    }
    workers_.push_back(std::move(worker));
  }
  if (!start_metrics()) return false;
  // Said once every worker is set up, so that what a reader sees then is what passthru holds.
  say_listening(listeners_);
  return true;
}

void Server::say_listening(const std::vector<OpenListener>& listeners) const {
  for (const OpenListener& listener : listeners)
    if (listener.fresh && listener.fds.size() < workers_count_)
      std::printf("passthru: listening on %s (the first worker alone: it carries reverse tunnels)\n",
                  listener.name.c_str());
    else if (listener.fresh)
      std::printf("passthru: listening on %s (%u workers)\n", listener.name.c_str(), workers_count_);
  std::fflush(stdout);
}

void Server::reload(const char* why) {
  spdlog::info("reloading {} ({})", config_->path.string(), why);
  // A new registry loads every plugin file again: one replaced on disk is loaded anew, while the
  // running config keeps the library it was made with.
  PluginRegistry plugins;
  std::vector<std::string> errors;
  std::optional<Config> loaded = load_config(config_->path, plugins, errors);
  if (loaded) apply_overrides(overrides_, *loaded);
  std::optional<std::vector<OpenListener>> listeners;
  std::string error;
  if (loaded) error = check_source_capability(*loaded);
  if (loaded && error.empty()) error = apply_log_settings(*loaded, overrides_.log_level);
  if (loaded && error.empty()) listeners = open_listeners(*loaded, workers_count_, listeners_, error);
  if (!error.empty()) errors.push_back(error);
  watch_.remember();
  if (!listeners) {
    if (loaded) apply_log_settings(*config_, overrides_.log_level);  // back as they were
    for (const std::string& e : errors) spdlog::error("{}", e);
    spdlog::error("reload failed: kept the running config");
    ++process_metrics_.reloads_failed;
    process_metrics_.last_reload_ok = false;
    return;
  }
  auto config = std::make_shared<const Config>(std::move(*loaded));
  if (config->workers && config->workers != workers_count_)
    spdlog::warn("workers = {} takes effect at the next start; {} run until then", config->workers, workers_count_);
  auto metrics_at = [](const Config& c) { return c.metrics_listen ? c.metrics_listen->to_string() : "off"; };
  if (metrics_at(*config) != metrics_at(*config_))
    spdlog::warn("[metrics] listen = {} takes effect at the next start; metrics stay {} until then",
                 metrics_at(*config), metrics_at(*config_));
  limits_.set_max_connections(config->max_connections);
  std::vector<std::future<void>> taken;
  for (unsigned w = 0; w < workers_.size(); ++w)
    taken.push_back(workers_[w]->reload(config, plan_for(w, *config, *listeners), config->drain_timeout_ms));
  for (auto& done : taken) done.wait();  // from here on every new connection is the new config's
  listeners_ = std::move(*listeners);
  config_ = std::move(config);
  ++process_metrics_.reloads_succeeded;
  process_metrics_.last_reload_ok = true;
  note_loaded();
  say_listening(listeners_);
  spdlog::info("reloaded: {} listener{}, {} rule{}", config_->servers.size(), config_->servers.size() == 1 ? "" : "s",
               count_rules(*config_), count_rules(*config_) == 1 ? "" : "s");
}

void Server::drain(int first_signal) {
  // The first stop signal drains: listening sockets close at once, live connections have
  // drain_timeout_ms to finish. A second one, while they do, closes them all at once.
  spdlog::info("received {}: no longer accepting; live connections have {} ms to finish (a second signal ends "
               "them now)",
               signal_name(first_signal), config_->drain_timeout_ms);
  process_metrics_.ready = false;  // /ready says 503 from now on: a load balancer takes it out
  for (auto& worker : workers_) worker->drain(config_->drain_timeout_ms);
  timespec look_every{0, kLookEveryNs / 5};  // how soon the workers' end is noticed
  for (;;) {
    if (std::all_of(workers_.begin(), workers_.end(), [](auto& w) { return w->finished(); })) return;
    int number = sigtimedwait(&signals_, nullptr, &look_every);
    if (number == SIGINT || number == SIGTERM) {
      spdlog::info("received {} while draining: closing every connection now", signal_name(number));
      for (auto& worker : workers_) worker->stop();
      return;
    }
  }
}

}  // namespace

int run_server(std::shared_ptr<const Config> config, const CommandLineOverrides& overrides) {
  Server server(std::move(config), overrides);
  return server.run();
}

}  // namespace passthru::core
