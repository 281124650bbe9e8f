#include "worker.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <stdexcept>

#include "connection.hpp"

namespace passthru::core {

namespace {
constexpr std::size_t kRelayBufferSize = 64 * 1024;  // one read's worth
constexpr std::size_t kRelayBuffersKept = 256;
constexpr std::size_t kPipesKept = 16;
constexpr std::size_t kSniffBuffersKept = 64;

// Pipes take two descriptors each, which connections need too: a worker makes no more than a
// sixteenth of the process's limit (an eighth of its descriptors); relays copy beyond that.
std::size_t pipe_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return 4096;
  return std::max<std::size_t>(kPipesKept, static_cast<std::size_t>(files.rlim_cur / 16));
}
}  // namespace

Worker::Worker(const Config& config, const std::vector<int>& listen_fds,
               const std::vector<std::string>& names)
    : relay_pool_(kRelayBufferSize, kRelayBuffersKept), pipe_pool_(kPipesKept, pipe_limit()) {
  uv_loop_init(&loop_);
  relay_poller_ = std::make_unique<RelayPoller>(&loop_);
  uv_async_init(&loop_, &stop_, on_stop);
  stop_.data = this;
  for (std::size_t i = 0; i < listen_fds.size(); ++i) {
    auto listener = std::make_unique<Listener>();
    listener->worker = this;
    listener->server = &config.servers[i];
    listener->name = names[i];
    listener->sniff_pool = std::make_unique<BufferPool>(config.servers[i].max_sniff_bytes, kSniffBuffersKept);
    uv_tcp_init(&loop_, &listener->handle);
    listener->handle.data = listener.get();
    int status = uv_tcp_open(&listener->handle, listen_fds[i]);
    if (status == 0)
      status = uv_listen(reinterpret_cast<uv_stream_t*>(&listener->handle), SOMAXCONN, on_connection);
    if (status < 0)
      throw std::runtime_error("cannot listen on " + config.servers[i].key + ": " + uv_strerror(status));
    listeners_.push_back(std::move(listener));
  }
}

Worker::~Worker() {
  // Every handle was closed by on_stop; run once more in case run() was never called.
  relay_poller_->close();
  uv_run(&loop_, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop_) != 0) spdlog::warn("an event loop closed with handles still open");
}

void Worker::run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void Worker::stop() { uv_async_send(&stop_); }

void Worker::add(Connection* connection) noexcept {
  connection->next = connections_;
  if (connections_) connections_->previous = connection;
  connections_ = connection;
}

void Worker::remove(Connection* connection) noexcept {
  if (connection->previous) connection->previous->next = connection->next;
  else connections_ = connection->next;
  if (connection->next) connection->next->previous = connection->previous;
}

void Worker::on_connection(uv_stream_t* server, int status) {
  auto* listener = static_cast<Listener*>(server->data);
  if (status < 0) {
    spdlog::warn("listener={} accept failed: {} ({})", listener->name, uv_err_name(status),
                 uv_strerror(status));
    return;
  }
  Connection::accept(*listener->worker, *listener);
}

void Worker::on_stop(uv_async_t* async) {
  auto* self = static_cast<Worker*>(async->data);
  for (auto& listener : self->listeners_) uv_close(reinterpret_cast<uv_handle_t*>(&listener->handle), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->stop_), nullptr);
  for (Connection* c = self->connections_; c;) {
    Connection* next = c->next;  // shutdown() may not unlink at once, but it may later
    c->shutdown();
    c = next;
  }
  self->relay_poller_->close();  // every relay has stopped
}

}  // namespace passthru::core
