// loadgen: the benchmark's load generator and backend, one epoll loop, no threads.
//
//   loadgen backend  --listen 127.0.0.1:0 [--mode answer|sink|source] [--answer-byte C]
//       prints "port N"; per connection reads the client's first bytes, then
//       answer: writes 64 bytes (C, 'a' by default) and reads until EOF; sink: reads and
//       discards until EOF; source: writes without end.
//   loadgen rate     --target HOST:PORT --hello FILE --concurrency N --seconds S [--every-port yes]
//                    [--record FILE]
//       N clients in a loop: connect, send the hello, read the 64-byte answer, close.
//       --every-port yes: connect from any ephemeral port, not only those the kernel prefers.
//       --record: one line per connection, "START_NS END_NS BYTE" (wall clock, nanoseconds since
//       the epoch; BYTE: the answer's first byte, or '-' for a failed connection).
//   loadgen push     --target HOST:PORT --hello FILE --connections N --seconds S   (to a sink)
//   loadgen pull     --target HOST:PORT --hello FILE --connections N --seconds S   (from a source)
//       N long connections: send the hello, then push or pull bytes as fast as they go.
//   loadgen idle     --target HOST:PORT --hello FILE --connections N --hold S
//       opens N connections, each gets its answer, prints "ready", holds them S seconds idle.
//   loadgen tunnel-push --target HOST:PORT --hello FILE --streams N --seconds S   (to a sink)
//   loadgen tunnel-pull --target HOST:PORT --hello FILE --streams N --seconds S   (from a source)
//       one M-PROXY tunnel carrying N streams named bench.example, each sending the hello as its
//       first data, then pushing data messages of 64 KiB or pulling what comes back.
//   loadgen tunnel-rate --target HOST:PORT --hello FILE --concurrency N --seconds S
//       one M-PROXY tunnel with N streams in flight, each: `connection` and the hello, the
//       backend's 64-byte answer, `end`; a new stream as soon as the far end's `end` closes one.
//       Counts the streams completed per second, and the latency from `connection` to answer.
// Each load mode prints one line of JSON with what it measured.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "address.hpp"
#include "passthru/wire/mproxy_codec.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kAnswer = 64;
constexpr int kLocalPortRange = 51;  // IP_LOCAL_PORT_RANGE, Linux 6.3

std::map<std::string, std::string> options(int argc, char** argv) {
  std::map<std::string, std::string> out;
  for (int i = 2; i + 1 < argc; i += 2) out[argv[i]] = argv[i + 1];
  return out;
}

int nonblocking_socket(bool every_port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  // With tens of thousands of connections a second in TIME_WAIT, the kernel's default search
  // (every other port, the rest being kept for bind) costs more than the rest of a connection.
  // Searching every port leaves bind() none for a minute: the benchmark asks for it, tests don't.
  if (every_port) {
    unsigned range = 1u | (65535u << 16);
    setsockopt(fd, IPPROTO_IP, kLocalPortRange, &range, sizeof range);
  }
  return fd;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---- backend ---------------------------------------------------------------------------------

int run_backend(std::map<std::string, std::string>& opt) {
  std::string mode = opt.count("--mode") ? opt["--mode"] : "answer";
  char answer_byte = opt.count("--answer-byte") && !opt["--answer-byte"].empty() ? opt["--answer-byte"][0] : 'a';
  sockaddr_in at = address(opt["--listen"]);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at) < 0 || listen(listener, 4096) < 0) {
    std::perror("backend");
    return 1;
  }
  socklen_t length = sizeof at;
  getsockname(listener, reinterpret_cast<sockaddr*>(&at), &length);
  std::printf("port %d\n", ntohs(at.sin_port));
  std::fflush(stdout);
  int ep = epoll_create1(0);
  epoll_event ev{EPOLLIN, {.fd = listener}};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::vector<char> buffer(256 * 1024);
  std::vector<char> zeros(256 * 1024, 0);
  std::vector<std::uint8_t> answered(1 << 20, 0);  // per fd: the first bytes were answered
  char answer[kAnswer];
  std::memset(answer, answer_byte, sizeof answer);
  epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        for (;;) {
          int c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0) break;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
          answered[c] = 0;
          epoll_event e{EPOLLIN, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      if (events[i].events & EPOLLOUT) {  // source mode, after the hello
        ssize_t w = send(fd, zeros.data(), zeros.size(), MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) close(fd);
        continue;
      }
      ssize_t r = read(fd, buffer.data(), buffer.size());
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        close(fd);
        continue;
      }
      if (answered[fd]) continue;
      answered[fd] = 1;
      if (mode == "answer") {
        (void)!send(fd, answer, sizeof answer, MSG_NOSIGNAL);
      } else if (mode == "source") {
        epoll_event e{EPOLLOUT, {.fd = fd}};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
      }
    }
  }
}

// ---- clients -----------------------------------------------------------------------------------

struct Client {
  int fd = -1;
  Clock::time_point started;
  std::int64_t started_ns = 0;  ///< wall clock, for --record
  std::size_t sent = 0;
  std::size_t got = 0;
  char first = '-';  ///< the answer's first byte
};

std::int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int run_rate(std::map<std::string, std::string>& opt, const std::string& hello) {
  sockaddr_in target = address(opt["--target"]);
  int concurrency = std::stoi(opt["--concurrency"]);
  double duration = std::stod(opt["--seconds"]);
  bool every_port = opt.count("--every-port") && opt["--every-port"] == "yes";
  FILE* record = opt.count("--record") ? std::fopen(opt["--record"].c_str(), "w") : nullptr;
  int ep = epoll_create1(0);
  std::vector<Client> clients(concurrency);
  std::vector<std::uint32_t> latencies;
  latencies.reserve(1 << 20);
  std::uint64_t errors = 0;
  char buffer[4096];
  auto start = [&](int i) {
    Client& c = clients[i];
    c = Client{};
    c.fd = nonblocking_socket(every_port);
    c.started = Clock::now();
    if (record) c.started_ns = wall_clock_ns();
    connect(c.fd, reinterpret_cast<sockaddr*>(&target), sizeof target);
    epoll_event e{EPOLLOUT, {.u32 = static_cast<std::uint32_t>(i)}};
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &e);
  };
  auto finish = [&](int i, bool ok) {
    Client& c = clients[i];
    if (ok) latencies.push_back(static_cast<std::uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.started).count()));
    else ++errors;
    if (record)
      std::fprintf(record, "%lld %lld %c\n", static_cast<long long>(c.started_ns),
                   static_cast<long long>(wall_clock_ns()), ok ? c.first : '-');
    close(c.fd);
  };
  auto begin = Clock::now();
  for (int i = 0; i < concurrency; ++i) start(i);
  epoll_event events[512];
  bool stopping = false;
  int open = concurrency;
  while (open > 0) {
    if (!stopping && seconds_since(begin) >= duration) stopping = true;
    int n = epoll_wait(ep, events, 512, 100);
    for (int k = 0; k < n; ++k) {
      int i = static_cast<int>(events[k].data.u32);
      Client& c = clients[i];
      if (events[k].events & (EPOLLERR | EPOLLHUP) && c.sent < hello.size()) {
        finish(i, false);
      } else if (c.sent < hello.size()) {
        ssize_t w = send(c.fd, hello.data() + c.sent, hello.size() - c.sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
          finish(i, false);
        } else {
          if (w > 0) c.sent += static_cast<std::size_t>(w);
          if (c.sent == hello.size()) {
            epoll_event e{EPOLLIN, {.u32 = static_cast<std::uint32_t>(i)}};
            epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
          }
          continue;
        }
      } else {
        ssize_t r = read(c.fd, buffer, sizeof buffer);
        if (r < 0 && errno == EAGAIN) continue;
        if (r > 0 && c.got == 0) c.first = buffer[0];
        if (r > 0) c.got += static_cast<std::size_t>(r);
        if (r > 0 && c.got < kAnswer) continue;
        finish(i, c.got >= kAnswer);
      }
      if (stopping) --open;
      else start(i);
    }
  }
  double elapsed = seconds_since(begin);
  if (record) std::fclose(record);
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) { return latencies.empty() ? 0u : latencies[static_cast<std::size_t>(p * (latencies.size() - 1))]; };
  std::printf("{\"connections\":%zu,\"errors\":%llu,\"seconds\":%.3f,\"rate\":%.1f,\"p50_us\":%u,\"p99_us\":%u}\n",
              latencies.size(), static_cast<unsigned long long>(errors), elapsed, latencies.size() / elapsed, pct(0.5),
              pct(0.99));
  return 0;
}

/// Opens `count` connections, each sends the hello and gets its answer. Returns their fds.
std::vector<int> open_answered(const sockaddr_in& target, const std::string& hello, int count, bool want_answer) {
  std::vector<int> fds;
  char buffer[kAnswer];
  for (int i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) < 0 ||
        send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) {
      std::perror("connect");
      close(fd);
      continue;
    }
    std::size_t got = 0;
    while (want_answer && got < kAnswer) {
      ssize_t r = read(fd, buffer, sizeof buffer - got);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fds.push_back(fd);
  }
  return fds;
}

int run_stream(std::map<std::string, std::string>& opt, const std::string& hello, bool push) {
  sockaddr_in target = address(opt["--target"]);
  int count = std::stoi(opt["--connections"]);
  double duration = std::stod(opt["--seconds"]);
  std::vector<int> fds = open_answered(target, hello, count, false);
  int ep = epoll_create1(0);
  for (std::size_t i = 0; i < fds.size(); ++i) {
    epoll_event e{push ? EPOLLOUT : EPOLLIN, {.fd = fds[i]}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
  }
  std::vector<char> buffer(256 * 1024, 0);
  std::uint64_t bytes = 0;
  auto begin = Clock::now();
  epoll_event events[64];
  while (seconds_since(begin) < duration) {
    int n = epoll_wait(ep, events, 64, 50);
    for (int k = 0; k < n; ++k) {
      ssize_t r = push ? send(events[k].data.fd, buffer.data(), buffer.size(), MSG_NOSIGNAL)
                       : read(events[k].data.fd, buffer.data(), buffer.size());
      if (r > 0) bytes += static_cast<std::uint64_t>(r);
    }
  }
  double elapsed = seconds_since(begin);
  for (int fd : fds) close(fd);
  std::printf("{\"connections\":%zu,\"bytes\":%llu,\"seconds\":%.3f,\"gbit_per_s\":%.3f}\n", fds.size(),
              static_cast<unsigned long long>(bytes), elapsed, bytes * 8 / elapsed / 1e9);
  return 0;
}

/// One M-PROXY message (proxy-packer's framing): 0xFE, the header's length, the header, the body.
std::string mproxy_message(const std::string& header, const std::string& body) {
  return std::string(1, '\xFE') + static_cast<char>(header.size()) + header + body;
}

/// Connects to `target`, blocking; -1 (said on stderr) if it cannot.
int connected_socket(const sockaddr_in& target) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) < 0) {
    std::perror("connect");
    close(fd);
    return -1;
  }
  return fd;
}

int run_tunnel(std::map<std::string, std::string>& opt, const std::string& hello, bool push) {
  sockaddr_in target = address(opt["--target"]);
  int streams = std::stoi(opt["--streams"]);
  double duration = std::stod(opt["--seconds"]);
  int fd = connected_socket(target);
  if (fd < 0) return 1;
  auto stream_header = [](int i, std::size_t length, const char* kind) {
    return "IPv4,10.9.0." + std::to_string(1 + i) + ",5000," + std::to_string(length) + "," + kind +
           ",443,bench.example";
  };
  std::string opening = mproxy_message(",,,2,control", "[]");
  for (int i = 0; i < streams; ++i)
    opening += mproxy_message(stream_header(i, 0, "connection") + ",tcp", "") +
               mproxy_message(stream_header(i, hello.size(), "tcp"), hello);
  if (send(fd, opening.data(), opening.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(opening.size())) {
    std::perror("send");
    return 1;
  }
  constexpr std::size_t kBody = 64 * 1024;
  std::vector<std::string> frames;  // one data message per stream, sent round and round
  for (int i = 0; i < streams; ++i) frames.push_back(mproxy_message(stream_header(i, kBody, "tcp"), std::string(kBody, 'b')));
  std::vector<char> buffer(256 * 1024);
  std::uint64_t bytes = 0;
  std::size_t frame = 0, offset = 0;
  auto begin = Clock::now();
  timeval tick{0, 50000};  // blocking calls, woken now and then to look at the clock
  setsockopt(fd, SOL_SOCKET, push ? SO_SNDTIMEO : SO_RCVTIMEO, &tick, sizeof tick);
  while (seconds_since(begin) < duration) {
    if (push) {
      const std::string& f = frames[frame];
      ssize_t r = send(fd, f.data() + offset, f.size() - offset, MSG_NOSIGNAL);
      if (r <= 0) continue;
      offset += static_cast<std::size_t>(r);
      bytes += static_cast<std::uint64_t>(r);
      if (offset == f.size()) {
        offset = 0;
        frame = (frame + 1) % frames.size();
      }
    } else {
      ssize_t r = read(fd, buffer.data(), buffer.size());
      if (r > 0) bytes += static_cast<std::uint64_t>(r);
      else if (r == 0) break;
    }
  }
  double elapsed = seconds_since(begin);
  close(fd);
  std::printf("{\"streams\":%d,\"bytes\":%llu,\"seconds\":%.3f,\"gbit_per_s\":%.3f}\n", streams,
              static_cast<unsigned long long>(bytes), elapsed, bytes * 8 / elapsed / 1e9);
  return 0;
}

int run_tunnel_rate(std::map<std::string, std::string>& opt, const std::string& hello) {
  using passthru::mproxy::Kind;
  sockaddr_in target = address(opt["--target"]);
  int concurrency = std::stoi(opt["--concurrency"]);
  double duration = std::stod(opt["--seconds"]);
  int fd = connected_socket(target);
  if (fd < 0) return 1;
  fcntl(fd, F_SETFL, O_NONBLOCK);
  struct Stream {
    Clock::time_point started;
    std::size_t got = 0;  ///< bytes of the answer
  };
  std::unordered_map<std::string, Stream> open;  // by "family,address,port"
  std::string out = mproxy_message(",,,2,control", "[]");
  std::string error;
  std::uint32_t opened = 0;
  auto open_stream = [&] {
    // Each stream its own id, never used again: 10.x.y.z, from a counter.
    ++opened;
    passthru::mproxy::Meta meta{"IPv4", "10." + std::to_string(opened >> 16 & 255) + "." +
                                            std::to_string(opened >> 8 & 255) + "." + std::to_string(opened & 255),
                                "5000", "tcp", "443", "bench.example"};
    out += *passthru::mproxy::pack(Kind::Connection, meta, "", false, error);
    out += *passthru::mproxy::pack(Kind::Data, meta, hello, false, error);
    open[meta.id()] = Stream{Clock::now(), 0};
  };
  std::vector<std::uint32_t> latencies;
  latencies.reserve(1 << 20);
  std::uint64_t completed = 0, errors = 0;
  bool stopping = false;
  passthru::mproxy::Decoder decoder;
  auto on_message = [&](passthru::mproxy::Message&& m) {
    auto it = open.find(m.meta.id());
    if (it == open.end()) return;
    Stream& s = it->second;
    bool answered = s.got >= kAnswer;
    switch (m.kind) {
      case Kind::Data:
        s.got += m.body.size();
        if (!answered && s.got >= kAnswer) {
          latencies.push_back(static_cast<std::uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s.started).count()));
          out += *passthru::mproxy::pack(Kind::End, m.meta, "", false, error);
        }
        return;
      case Kind::End:
      case Kind::Error:
        (answered && m.kind == Kind::End ? completed : errors) += 1;
        open.erase(it);
        if (!stopping) open_stream();
        return;
      case Kind::Connection:
      case Kind::Control:
      case Kind::Pause:
      case Kind::Resume:
        return;
    }
  };
  for (int i = 0; i < concurrency; ++i) open_stream();
  std::vector<char> buffer(256 * 1024);
  auto begin = Clock::now();
  bool failed = false;
  // After the last new stream, those in flight have a few seconds to finish (else: errors).
  while (!failed && !open.empty() && seconds_since(begin) < duration + 5) {
    if (!stopping && seconds_since(begin) >= duration) stopping = true;
    pollfd p{fd, static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if (p.revents & POLLOUT) {
      ssize_t w = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (w > 0) out.erase(0, static_cast<std::size_t>(w));
      else if (errno != EAGAIN) failed = true;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(fd, buffer.data(), buffer.size());
      if (r > 0) failed = !decoder.feed({buffer.data(), static_cast<std::size_t>(r)}, on_message);
      else if (r == 0 || errno != EAGAIN) failed = true;
    }
  }
  double elapsed = seconds_since(begin);
  close(fd);
  if (failed) std::fprintf(stderr, "loadgen: the tunnel failed: %s\n", decoder.error().c_str());
  errors += open.size();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) { return latencies.empty() ? 0u : latencies[static_cast<std::size_t>(p * (latencies.size() - 1))]; };
  std::printf("{\"connections\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"rate\":%.1f,\"p50_us\":%u,\"p99_us\":%u}\n",
              static_cast<unsigned long long>(completed), static_cast<unsigned long long>(errors), elapsed,
              completed / elapsed, pct(0.5), pct(0.99));
  return 0;
}

int run_idle(std::map<std::string, std::string>& opt, const std::string& hello) {
  sockaddr_in target = address(opt["--target"]);
  std::vector<int> fds = open_answered(target, hello, std::stoi(opt["--connections"]), true);
  std::printf("ready %zu\n", fds.size());
  std::fflush(stdout);
  sleep(static_cast<unsigned>(std::stoi(opt["--hold"])));
  for (int fd : fds) close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: loadgen backend|rate|push|pull|idle|tunnel-push|tunnel-pull|tunnel-rate --option value ...\n");
    return 2;
  }
  std::string mode = argv[1];
  auto opt = options(argc, argv);
  if (mode == "backend") return run_backend(opt);
  std::ifstream in(opt["--hello"], std::ios::binary);
  std::string hello((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (hello.empty()) {
    std::fprintf(stderr, "loadgen: --hello names no readable file\n");
    return 2;
  }
  if (mode == "rate") return run_rate(opt, hello);
  if (mode == "push") return run_stream(opt, hello, true);
  if (mode == "pull") return run_stream(opt, hello, false);
  if (mode == "idle") return run_idle(opt, hello);
  if (mode == "tunnel-push") return run_tunnel(opt, hello, true);
  if (mode == "tunnel-pull") return run_tunnel(opt, hello, false);
  if (mode == "tunnel-rate") return run_tunnel_rate(opt, hello);
  std::fprintf(stderr, "loadgen: unknown mode %s\n", mode.c_str());
  return 2;
}
