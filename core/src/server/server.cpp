#include "server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>

#include "transparent.hpp"
#include "worker.hpp"

namespace passthru::core {

namespace {

// Below this, libuv cannot even make its own descriptors (and aborts): say so instead.
constexpr rlim_t kLeastDescriptors = 16;

/// A non-blocking listening socket on `at` with SO_REUSEPORT, so every worker can have its own
/// socket on the same address; `transparent` for transparent = true. Returns the descriptor, or
/// -1 with `error` set.
int open_listener(const Endpoint& at, std::uint16_t port, bool transparent, std::string& error) {
  sockaddr_storage address = at.address;
  if (address.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  else reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  // Accepted sockets inherit TCP_NODELAY from the listener: one call here, none per connection.
  // Relayed bytes go out as they come; Nagle's delay would only hold back a peer's last bytes.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (int status = transparent ? make_transparent(fd, address.ss_family) : 0; status < 0) {
    error = transparent_refusal(status);
    ::close(fd);
    return -1;
  }
  auto* at_address = reinterpret_cast<sockaddr*>(&address);
  if (bind(fd, at_address, address_length(at_address)) < 0 || listen(fd, SOMAXCONN) < 0) {
    error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port)
                                      : ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
}

}  // namespace

int run_server(const Config& config) {
  unsigned workers = config.workers ? config.workers : std::max(1u, std::thread::hardware_concurrency());

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

  // Stop signals are taken by this thread alone, with sigwait; workers never see them. Blocked
  // before "listening" is printed, so a stop sent as soon as that line is read is a clean stop.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (std::string refused = check_source_capability(config); !refused.empty()) {
    std::fprintf(stderr, "%s\n", refused.c_str());
    return 1;
  }

  // fds[w][s]: worker w's socket for server s. Port 0 is resolved by the first bind, and the
  // other workers bind the port it got.
  std::vector<std::vector<int>> fds(workers, std::vector<int>(config.servers.size(), -1));
  std::vector<std::string> names;
  for (std::size_t s = 0; s < config.servers.size(); ++s) {
    const ServerConfig& server = config.servers[s];
    std::uint16_t port = server.listen.port;
    for (unsigned w = 0; w < workers; ++w) {
      std::string error;
      int fd = open_listener(server.listen, port, server.transparent, error);
      if (fd < 0) {
        std::fprintf(stderr, "%s\n",
                     format_error(config.path, server.where, "cannot listen on " + server.key + ": " + error).c_str());
        return 1;
      }
      port = bound_port(fd);
      fds[w][s] = fd;
    }
    Endpoint shown = server.listen;
    shown.port = port;
    names.push_back(shown.to_string());
  }

  ConnectionLimits limits(config);  // every worker's; outlives them
  std::vector<std::unique_ptr<Worker>> loops;
  for (unsigned w = 0; w < workers; ++w) {
    std::string error;
    auto worker = Worker::open(config, fds[w], names, limits, error);
    if (!worker) {  // out of descriptors, most likely: nothing has started yet
      std::fprintf(stderr, "passthru: cannot start worker %u of %u: %s (open-files limit: %llu)\n", w + 1, workers,
                   error.c_str(), static_cast<unsigned long long>(files.rlim_cur));
      for (unsigned later = w + 1; later < workers; ++later)
        for (int fd : fds[later]) ::close(fd);
      return 1;
    }
    loops.push_back(std::move(worker));
  }
  // Said once every worker is set up, so that what a reader sees then is what passthru holds.
  for (const std::string& name : names) std::printf("passthru: listening on %s (%u workers)\n", name.c_str(), workers);
  std::fflush(stdout);
  std::vector<std::thread> threads;
  std::atomic<unsigned> finished{0};
  for (auto& loop : loops)
    threads.emplace_back([&loop, &finished] {
      loop->run();
      ++finished;
    });

  // The first stop signal drains: listening sockets close at once, live connections have
  // drain_timeout_ms to finish. A second one, while they do, closes them all at once.
  auto name = [](int number) { return number == SIGINT ? "SIGINT" : "SIGTERM"; };
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received {}: no longer accepting; live connections have {} ms to finish (a second signal ends "
               "them now)",
               name(signal_number), config.drain_timeout_ms);
  for (auto& loop : loops) loop->drain(config.drain_timeout_ms);
  timespec poll_interval{0, 50'000'000};  // how soon the workers' end is noticed
  while (finished < loops.size()) {
    signal_number = sigtimedwait(&stop_signals, nullptr, &poll_interval);
    if (signal_number > 0) {
      spdlog::info("received {} while draining: closing every connection now", name(signal_number));
      for (auto& loop : loops) loop->stop();
      break;
    }
  }
  for (auto& thread : threads) thread.join();
  loops.clear();
  return 0;
}

}  // namespace passthru::core
