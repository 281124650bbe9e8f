#include "worker.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "connection.hpp"
#include "tunnel.hpp"
#include "tunnel_link.hpp"

namespace passthru::core {

namespace {
constexpr std::size_t kRelayBufferSize = 64 * 1024;  // one read's worth
constexpr std::size_t kRelayBuffersKept = 256;
constexpr std::size_t kPipesKept = 16;
constexpr std::size_t kSniffBuffersKept = 64;
// Out of descriptors, accepting waits this long before it tries again: connections already
// held go on being served meanwhile, and new ones wait in the listen queue.
constexpr std::uint64_t kDescriptorBackoffMs = 100;
// An episode of running out ends only once accepting has gone on this long without running out
// again. Under a flood, descriptors free up and run out again every few hundred milliseconds
// (each time a held connection ends); ending the episode at the first accept that worked would
// log two lines per cycle, which is the log storm the backoff is there to prevent.
constexpr std::uint64_t kDescriptorQuietMs = 10'000;
// At most this many connections a listener takes in one turn, so that the connections already
// held are served between floods of new ones.
constexpr int kAcceptsPerTurn = 32;
// The memory of connections that ended is reused for the next ones: the block taken is the one
// freed last, still in the cache, and malloc's search for a block of this size (beyond its
// per-thread cache) is skipped. Under AddressSanitizer none is kept, so that a use of a
// connection after it was freed is still caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kConnectionsKept = 0;
#else
constexpr std::size_t kConnectionsKept = 256;
#endif

// Pipes take two descriptors each, which connections need too: a worker makes no more than a
// sixteenth of the process's limit (an eighth of its descriptors); relays copy beyond that.
std::size_t pipe_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return 4096;
  return std::max<std::size_t>(kPipesKept, static_cast<std::size_t>(files.rlim_cur / 16));
}

uv_handle_t* handle(void* h) { return static_cast<uv_handle_t*>(h); }
}  // namespace

Worker::Worker(ConnectionLimits& limits)
    : relay_pool_(kRelayBufferSize, kRelayBuffersKept),
      connection_memory_(sizeof(Connection), kConnectionsKept),
      pipe_pool_(kPipesKept, pipe_limit()),
      limits_(&limits) {}

ListenerRules::ListenerRules(std::uint64_t listener, std::shared_ptr<const Config> config, const ServerConfig& server,
                             std::string name, std::shared_ptr<ConnectionLimits::PerListener> counts,
                             WorkerMetrics& metrics)
    : listener(listener),
      config(std::move(config)),
      server(server),
      name(std::move(name)),
      counts(std::move(counts)),
      sniff_pool(server.max_sniff_bytes, kSniffBuffersKept),
      metrics(metrics, this->name, server) {}

std::unique_ptr<Worker> Worker::open(std::shared_ptr<const Config> config, std::vector<ListenerPlan> listeners,
                                     ConnectionLimits& limits, std::string& error) {
  std::unique_ptr<Worker> worker(new Worker(limits));
  if (worker->set_up(std::move(config), std::move(listeners), error)) return worker;
  return nullptr;  // its destructor closed what set_up had opened
}

bool Worker::set_up(std::shared_ptr<const Config> config, std::vector<ListenerPlan> listeners, std::string& error) {
  // The listening sockets are this worker's from the start: each one not yet given to a
  // Listener is closed here on failure, the others by stop_now.
  std::size_t given = 0;
  auto fail = [&](std::string why) {
    for (std::size_t i = given; i < listeners.size(); ++i) ::close(listeners[i].fd);
    error = std::move(why);
    return false;
  };
  if (int status = uv_loop_init(&loop_); status < 0)
    return fail(std::string("cannot make an event loop: ") + uv_strerror(status));
  loop_open_ = true;
  uv_async_init(&loop_, &wake_, on_asked);  // an eventfd made by uv_loop_init: cannot fail here
  wake_.data = this;
  uv_timer_init(&loop_, &drain_over_);
  drain_over_.data = this;
  uv_timer_init(&loop_, &retired_over_);
  retired_over_.data = this;
  access_log_ = std::make_unique<AccessLog>();
  event_set_ = EventSet::open(&loop_, error);
  if (!event_set_) return fail(error);
  deadlines_ = std::make_unique<DeadlineQueue>(&loop_);
  for (const ListenerPlan& plan : listeners) {
    ++given;
    if (!add_listener(config, plan, error)) return fail(error);
  }
  // A reverse tunnel is dialled at start, by one worker only (the first set up), so that the far
  // end sees one tunnel per name.
  static std::atomic<bool> reverse_tunnels_claimed{false};
  bool has_reverse = std::any_of(config->tunnels.begin(), config->tunnels.end(), [](const TunnelConfig& t) {
    return !t.routes.protocols.empty() || t.routes.catchall;
  });
  if (has_reverse && !reverse_tunnels_claimed.exchange(true))
    for (std::size_t i = 0; i < config->tunnels.size(); ++i)
      if (!config->tunnels[i].routes.protocols.empty() || config->tunnels[i].routes.catchall)
        tunnel_link(config, i).keep_up();
  return true;
}

bool Worker::add_listener(const std::shared_ptr<const Config>& config, const ListenerPlan& plan, std::string& error) {
  auto owned = std::make_unique<Listener>();
  Listener& listener = *owned;
  listener.id = ++listeners_made_;
  listener.fd = plan.fd;
  listener.worker = this;
  listener.rules =
      std::make_shared<ListenerRules>(listener.id, config, *plan.server, plan.name, plan.counts, metrics_);
  uv_timer_init(&loop_, &listener.backoff);
  listener.backoff.data = &listener;
  if (int status = event_set_->watch_listening(listener.fd, listener); status < 0) {
    error = "cannot listen on " + plan.server->key + ": " + uv_strerror(status);
    close_listener(std::move(owned));
    return false;
  }
  listeners_.push_back(std::move(owned));
  return true;
}

Worker::~Worker() {
  if (!loop_open_) return;
  // Every handle was closed by stop_now; run once more in case run() was never called.
  stop_now();
  run_until_all_closed();
  if (uv_loop_close(&loop_) != 0) spdlog::warn("an event loop closed with handles still open");
}

void Worker::run() {
  int log_due_in_ms = -1;  // the held access-log lines are written out by then (-1: none held)
  while (!stopping_) {
    event_set_->turn(true, log_due_in_ms);
    releases_.run();
    log_due_in_ms = access_log_->write_out_due(uv_now(&loop_));
  }
  run_until_all_closed();
  finished_ = true;
}

void Worker::run_until_all_closed() {
  // Until the handles stop_now closed and the requests still out have called back, and what
  // they held has gone.
  do releases_.run();
  while (uv_run(&loop_, UV_RUN_ONCE) != 0 || !releases_.empty());
}

TunnelLink& Worker::tunnel_link(const std::shared_ptr<const Config>& config, std::size_t index) {
  std::unique_ptr<TunnelLink>& link = tunnel_links_[config->tunnels.at(index).name];
  if (!link) {
    link = std::make_unique<TunnelLink>(*this, config, index);
    if (stopping_) link->close();
  }
  return *link;
}

void Worker::register_tunnel(const std::string& name, Tunnel& tunnel) { registered_tunnels_.emplace_back(name, &tunnel); }

void Worker::withdraw_tunnel(Tunnel& tunnel) noexcept {
  std::erase_if(registered_tunnels_, [&](const auto& entry) { return entry.second == &tunnel; });
}

Tunnel* Worker::registered_tunnel(const std::string& name, std::string_view host) const noexcept {
  for (auto it = registered_tunnels_.rbegin(); it != registered_tunnels_.rend(); ++it) {
    if (it->first != name || !it->second->grant()) continue;
    for (const std::string& granted : it->second->grant()->names) {
      std::string_view g = granted;
      bool wildcard = g.size() > 2 && g.substr(0, 2) == "*." && host.size() > g.size() - 1 &&
                      host.substr(host.size() - (g.size() - 1)) == g.substr(1);
      if (g == host || wildcard) return it->second;
    }
  }
  return nullptr;
}

void Worker::add(Connection* connection) noexcept {
  connection->next = connections_;
  if (connections_) connections_->previous = connection;
  connections_ = connection;
}

void Worker::remove(Connection* connection) noexcept {
  if (connection->previous) connection->previous->next = connection->next;
  else connections_ = connection->next;
  if (connection->next) connection->next->previous = connection->previous;
  if (draining_ && !connections_) stop_now();  // the last one finished: nothing to wait for
}

void Listener::on_acceptable() {
  // One connection a turn, as nginx does by default: the listener is watched level-triggered, so
  // one with more waiting is told again at the next turn, and no accept4 is spent on EAGAIN.
  // Told in two turns running, though, it has a queue: then it takes what waits, until EAGAIN,
  // which spares a turn (an epoll_wait) per connection under load, as the floor proxy does.
  std::uint64_t turn = worker->event_set().turns();
  bool queued = told_in_turn + 1 == turn;
  told_in_turn = turn;
  if (!worker->accept_one(*this) || !queued) return;
  for (int taken = 1; taken < kAcceptsPerTurn && worker->accept_one(*this); ++taken) {
  }
}

bool Worker::accept_one(Listener& listener) {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  int fd = accept4(listener.fd, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    if (listener.refused_for_descriptors > 0 &&
        uv_now(&loop_) >= listener.out_of_descriptors_at + kDescriptorQuietMs) {
      spdlog::info("listener={} accepting again: it ran out of descriptors {} times in that episode", listener.rules->name,
                   listener.refused_for_descriptors);
      listener.refused_for_descriptors = 0;
    }
    IpAddress source = IpAddress::from(peer);
    unmap_ipv4(source);
    ConnectionLimits::PerListener& counts = *listener.rules->counts;
    ConnectionLimits::Verdict verdict = limits_->admit(counts, source);
    if (verdict != ConnectionLimits::Verdict::Admitted) {
      refuse(listener, fd, verdict);
      return true;
    }
    if (std::uint64_t refused = limits_->admitting_again(counts, uv_now(&loop_)))
      spdlog::info("listener={} admitting connections again; {} refused meanwhile", listener.rules->name, refused);
    Connection::start(*this, listener, fd, source);
    return true;
  }
  int error = errno;
  if (error == EMFILE || error == ENFILE) {
    // Out of descriptors: the connection stays in the listen queue. Accepting again at once would
    // spin on the same error; wait, serving the connections already held, and try again.
    listener.out_of_descriptors_at = uv_now(&loop_);
    listener.rules->metrics.counters.refused[static_cast<std::size_t>(Refusal::Descriptors)].add();
    if (listener.refused_for_descriptors++ == 0)
      spdlog::warn("listener={} out of descriptors ({}): accepting paused, retried every {} ms", listener.rules->name,
                   uv_err_name(-error), kDescriptorBackoffMs);
    event_set_->pause_listening(listener.fd, true);
    uv_timer_start(&listener.backoff, on_backoff_over, kDescriptorBackoffMs, 0);
    return false;
  }
  // EAGAIN (another worker took it), ECONNABORTED (the client gave up first), EINTR: nothing to do.
  if (error != EAGAIN && error != ECONNABORTED && error != EINTR)
    spdlog::warn("listener={} accept failed: {} ({})", listener.rules->name, uv_err_name(-error), uv_strerror(-error));
  return false;
}

void Worker::refuse(Listener& listener, int fd, ConnectionLimits::Verdict why) {
  // A reset, not a FIN: the client learns at once that nothing will answer, and no TIME_WAIT
  // is left here for it.
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd);
  Refusal refusal = why == ConnectionLimits::Verdict::ProcessFull    ? Refusal::ProcessMax
                    : why == ConnectionLimits::Verdict::ListenerFull ? Refusal::ListenerMax
                                                                     : Refusal::PerSource;
  listener.rules->metrics.counters.refused[static_cast<std::size_t>(refusal)].add();
  if (limits_->refused(*listener.rules->counts, uv_now(&loop_)))
    spdlog::warn("listener={} at {}: refusing new connections with a reset", listener.rules->name, describe(why));
}

void Worker::on_backoff_over(uv_timer_t* timer) {
  auto* listener = static_cast<Listener*>(timer->data);
  if (!listener->worker->listeners_closed_) listener->worker->event_set_->pause_listening(listener->fd, false);
}

void Worker::drain(std::uint32_t timeout_ms) {
  drain_timeout_ms_ = timeout_ms;
  int nothing = kNothing;
  asked_.compare_exchange_strong(nothing, kDrain);  // a stop asked for already stands
  uv_async_send(&wake_);
}

void Worker::stop() {
  asked_ = kStop;
  uv_async_send(&wake_);
}

std::future<void> Worker::reload(std::shared_ptr<const Config> config, std::vector<ListenerPlan> listeners,
                                 std::uint32_t drain_timeout_ms) {
  std::lock_guard guard(reload_lock_);
  if (reload_) {  // one not yet taken is replaced (the caller should have waited for it)
    close_fresh(reload_->listeners);
    reload_->done.set_value();
  }
  reload_.emplace(Reload{std::move(config), std::move(listeners), drain_timeout_ms, {}});
  std::future<void> done = reload_->done.get_future();
  uv_async_send(&wake_);
  return done;
}

void Worker::on_asked(uv_async_t* async) {
  auto* self = static_cast<Worker*>(async->data);
  std::optional<Reload> reload;
  {
    std::lock_guard guard(self->reload_lock_);
    reload.swap(self->reload_);
  }
  if (reload) {
    self->apply(*reload);
    reload->done.set_value();
  }
  if (self->asked_ == kNothing) return;
  if (self->asked_ == kStop) {
    self->stop_now();
    return;
  }
  if (self->draining_ || self->stopping_) return;
  self->draining_ = true;
  // The listening sockets close at once, so a load balancer sees this instance leave and new
  // clients are refused rather than accepted and then cut.
  self->close_listeners();
  if (!self->connections_) {
    self->stop_now();
    return;
  }
  uv_timer_start(&self->drain_over_, on_drain_over, self->drain_timeout_ms_, 0);
}

void Worker::apply(Reload& reload) {
  if (listeners_closed_) {  // draining or stopping: no listener opens again
    close_fresh(reload.listeners);
    return;
  }
  std::vector<std::unique_ptr<Listener>> before;
  before.swap(listeners_);
  for (const ListenerPlan& plan : reload.listeners) {
    auto kept = std::find_if(before.begin(), before.end(), [&](auto& l) { return l && l->fd == plan.fd; });
    if (kept == before.end()) {  // a new listener
      std::string error;
      if (!add_listener(reload.config, plan, error)) spdlog::error("{}", error);
      continue;
    }
    // The socket stays open and watched: clients queued on it meanwhile are accepted by the new rules.
    (*kept)->rules =
        std::make_shared<ListenerRules>((*kept)->id, reload.config, *plan.server, plan.name, plan.counts, metrics_);
    listeners_.push_back(std::move(*kept));
  }
  // What is left was removed from the config: it stops accepting now, and its connections drain.
  std::uint64_t deadline = uv_now(&loop_) + reload.drain_timeout_ms;
  for (auto& removed : before) {
    if (!removed) continue;
    retired_.push_back({removed->id, deadline});
    close_listener(std::move(removed));
  }
  if (!retired_.empty() && !uv_is_active(handle(&retired_over_)))
    uv_timer_start(&retired_over_, on_retired_over, reload.drain_timeout_ms, 0);
}

void Worker::close_fresh(const std::vector<ListenerPlan>& listeners) {
  for (const ListenerPlan& plan : listeners)
    if (plan.fresh) ::close(plan.fd);
}

void Worker::on_retired_over(uv_timer_t* timer) {
  auto* self = static_cast<Worker*>(timer->data);
  std::uint64_t now = uv_now(&self->loop_);
  std::vector<Retired> waiting;
  for (Retired& retired : self->retired_) {
    if (retired.deadline > now) {
      waiting.push_back(retired);
      continue;
    }
    for (Connection* c = self->connections_; c;) {  // accepted under any of its rules
      Connection* next = c->next;
      if (c->rules().listener == retired.listener) c->shutdown();
      c = next;
    }
  }
  self->retired_ = std::move(waiting);
  if (self->retired_.empty()) return;
  std::uint64_t first = self->retired_.front().deadline;
  for (const Retired& retired : self->retired_) first = std::min(first, retired.deadline);
  uv_timer_start(timer, on_retired_over, first - now, 0);
}

void Worker::on_drain_over(uv_timer_t* timer) { static_cast<Worker*>(timer->data)->stop_now(); }

void Worker::on_listener_handle_closed(uv_handle_t* closed) { delete static_cast<Listener*>(closed->data); }

void Worker::close_listener(std::unique_ptr<Listener> owned) {
  Listener* listener = owned.release();  // freed by the backoff timer's close callback
  uv_close(handle(&listener->backoff), on_listener_handle_closed);
  event_set_->forget(listener->fd);
  ::close(listener->fd);
}

void Worker::close_listeners() {
  if (listeners_closed_) return;
  listeners_closed_ = true;
  for (auto& listener : listeners_) close_listener(std::move(listener));
  listeners_.clear();
}

void Worker::stop_now() {
  if (stopping_) return;
  stopping_ = true;
  close_listeners();
  uv_close(handle(&wake_), nullptr);
  uv_close(handle(&drain_over_), nullptr);
  uv_close(handle(&retired_over_), nullptr);
  if (access_log_) access_log_->close();  // the connections' last lines go out at once
  {
    std::lock_guard guard(reload_lock_);  // one asked for too late: nothing waits for it in vain
    if (reload_) {
      close_fresh(reload_->listeners);
      reload_->done.set_value();
      reload_.reset();
    }
  }
  for (Connection* c = connections_; c;) {
    Connection* next = c->next;  // shutdown() unlinks it later, at the end of the turn
    c->shutdown();
    c = next;
  }
  for (auto& [name, link] : tunnel_links_) link->close();
  if (deadlines_) deadlines_->close();
  if (event_set_) event_set_->close();  // every connection socket is closed
}

}  // namespace passthru::core
