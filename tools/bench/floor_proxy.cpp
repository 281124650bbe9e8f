// floor_proxy: the least a forwarding proxy can do per connection, measured beside the real
// proxies as a floor. It parses nothing and routes everything to one backend, with the fewest
// system calls we know of: accept4 with the peer's address, read the first bytes at once
// (on loopback they are usually there), connect, write them once the connect completes, then
// copy each way, shut a direction down when it ends, close both when both have ended.
// Every socket joins one edge-triggered epoll set once and never leaves it before close.
//
//   floor_proxy --listen 127.0.0.1:PORT --to 127.0.0.1:PORT [--threads 2]
//
// No proxy that reads the client's first bytes before it connects can make fewer system calls
// or do less in user space, so its CPU per connection says how far passthru's design could go.
// It sends every packet plain sockets send, though: a proxy that saves one (passthru sends the
// backend's handshake ACK with the first bytes) can cost a little less in the kernel.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "address.hpp"

namespace {

struct Pair;

// What epoll hands back for a socket: its connection and which side it is.
struct Tag {
  Pair* pair;
  int side;
};

// One forwarded connection.
struct Pair {
  int fd[2] = {-1, -1};  // 0: client, 1: backend
  Tag tags[2] = {{this, 0}, {this, 1}};
  bool connected = false;
  bool finished = false;
  bool ended[2] = {false, false};  // bytes from side i have all been passed on, then EOF
  std::vector<char> hello;
  // What a side read but the other side could not take yet; at most one chunk.
  std::vector<char> pending[2];
};

class Worker {
 public:
  Worker(sockaddr_in listen_at, sockaddr_in backend) : backend_(backend) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int on = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    setsockopt(listener_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // inherited by accepted sockets
    if (bind(listener_, reinterpret_cast<sockaddr*>(&listen_at), sizeof listen_at) < 0 || listen(listener_, 4096) < 0) {
      std::perror("floor_proxy");
      std::exit(1);
    }
    ep_ = epoll_create1(0);
    epoll_event ev{EPOLLIN, {.ptr = nullptr}};
    epoll_ctl(ep_, EPOLL_CTL_ADD, listener_, &ev);
  }

  void run() {
    epoll_event events[256];
    for (;;) {
      int n = epoll_wait(ep_, events, 256, -1);
      for (int i = 0; i < n; ++i) {
        if (!events[i].data.ptr) {
          accept_all();
          continue;
        }
        Tag* tag = static_cast<Tag*>(events[i].data.ptr);
        if (!tag->pair->finished) on_ready(tag->pair, tag->side);
      }
      // Freed only now: a later event of the same batch may name a pair that finished.
      for (Pair* pair : finished_) delete pair;
      finished_.clear();
    }
  }

 private:
  void accept_all() {
    for (;;) {
      sockaddr_in peer{};
      socklen_t length = sizeof peer;
      int fd = accept4(listener_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK);
      if (fd < 0) return;
      auto* pair = new Pair;
      pair->fd[0] = fd;
      watch(pair, 0);
      read_hello(pair);
    }
  }

  void watch(Pair* pair, int side) {
    epoll_event ev{EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, {.ptr = &pair->tags[side]}};
    epoll_ctl(ep_, EPOLL_CTL_ADD, pair->fd[side], &ev);
  }

  void read_hello(Pair* pair) {
    char buffer[4096];
    ssize_t r = read(pair->fd[0], buffer, sizeof buffer);
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) return finish(pair);
    pair->hello.assign(buffer, buffer + r);
    pair->fd[1] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int on = 1;
    setsockopt(pair->fd[1], IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (connect(pair->fd[1], reinterpret_cast<sockaddr*>(&backend_), sizeof backend_) < 0 && errno != EINPROGRESS) {
      return finish(pair);
    }
    watch(pair, 1);
  }

  void on_ready(Pair* pair, int side) {
    if (pair->fd[1] < 0) return read_hello(pair);
    if (!pair->connected) {
      if (side != 1) return;  // the client speaks again before the backend answers: wait
      ssize_t w = write(pair->fd[1], pair->hello.data(), pair->hello.size());
      if (w < 0 && errno == EAGAIN) return;
      if (w != static_cast<ssize_t>(pair->hello.size())) return finish(pair);  // refused, or short
      pair->connected = true;
    }
    if (!move(pair, 0) || !move(pair, 1)) return finish(pair);
    if (pair->ended[0] && pair->ended[1]) finish(pair);
  }

  // Copies what side `from` has to the other side; false on an error.
  bool move(Pair* pair, int from) {
    int to = 1 - from;
    if (pair->ended[from]) return true;
    char buffer[65536];
    for (;;) {
      std::vector<char>& pending = pair->pending[from];
      if (!pending.empty()) {
        ssize_t w = send(pair->fd[to], pending.data(), pending.size(), MSG_NOSIGNAL);
        if (w < 0) return errno == EAGAIN;
        pending.erase(pending.begin(), pending.begin() + w);
        if (!pending.empty()) return true;
      }
      ssize_t r = read(pair->fd[from], buffer, sizeof buffer);
      if (r < 0) return errno == EAGAIN;
      if (r == 0) {
        pair->ended[from] = true;
        // When the other way has ended too, close() below sends the FIN: no shutdown needed.
        if (!pair->ended[to]) shutdown(pair->fd[to], SHUT_WR);
        return true;
      }
      ssize_t w = send(pair->fd[to], buffer, r, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN) return false;
      if (w < r) {
        pending.assign(buffer + (w < 0 ? 0 : w), buffer + r);
        return true;
      }
    }
  }

  void finish(Pair* pair) {
    for (int fd : pair->fd)
      if (fd >= 0) close(fd);  // close takes a socket out of the epoll set
    pair->finished = true;
    finished_.push_back(pair);
  }

  sockaddr_in backend_;
  int listener_ = -1;
  int ep_ = -1;
  std::vector<Pair*> finished_;
};

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt;
  for (int i = 1; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  if (!opt.count("--listen") || !opt.count("--to")) {
    std::fprintf(stderr, "usage: floor_proxy --listen HOST:PORT --to HOST:PORT [--threads N]\n");
    return 2;
  }
  int threads = opt.count("--threads") ? std::stoi(opt["--threads"]) : 2;
  std::vector<std::thread> running;
  for (int i = 0; i < threads; ++i) {
    running.emplace_back([&] { Worker(address(opt["--listen"]), address(opt["--to"])).run(); });
  }
  for (auto& t : running) t.join();
}
