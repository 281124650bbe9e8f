#include "connection_limits.hpp"

#include <netinet/in.h>

#include <functional>

namespace passthru::core {

namespace {

/// The address alone (4 or 16 bytes): connections from one host share it whatever their port.
std::string address_key(const IpAddress& address) {
  if (address.any.sa_family == AF_INET)
    return {reinterpret_cast<const char*>(&address.v4.sin_addr), sizeof address.v4.sin_addr};
  if (address.any.sa_family == AF_INET6)
    return {reinterpret_cast<const char*>(&address.v6.sin6_addr), sizeof address.v6.sin6_addr};
  return {};
}

/// Adds one to `count` unless it is at `limit` (0: no limit).
bool take(std::atomic<std::uint32_t>& count, std::uint32_t limit) noexcept {
  if (limit == 0) {
    count.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  std::uint32_t now = count.load(std::memory_order_relaxed);
  do {
    if (now >= limit) return false;
  } while (!count.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return true;
}

}  // namespace

std::shared_ptr<ConnectionLimits::PerListener> ConnectionLimits::for_listener(const ServerConfig& server,
                                                                             std::shared_ptr<PerListener> kept) {
  // A table of sources only counts the connections admitted while it exists: one made now would
  // miss those already live, so the listener starts afresh rather than undercount.
  if (!kept || (server.max_connections_per_source && !kept->sources)) kept = std::make_shared<PerListener>();
  kept->max_connections = server.max_connections;
  kept->max_per_source = server.max_connections_per_source;
  if (server.max_connections_per_source && !kept->sources) kept->sources = std::make_unique<Stripe[]>(kStripes);
  return kept;
}

ConnectionLimits::Verdict ConnectionLimits::admit(PerListener& listener, const IpAddress& source) {
  if (!take(live_, max_connections_.load(std::memory_order_relaxed))) return Verdict::ProcessFull;
  if (!take(listener.live, listener.max_connections.load(std::memory_order_relaxed))) {
    live_.fetch_sub(1, std::memory_order_relaxed);
    return Verdict::ListenerFull;
  }
  if (listener.sources && !take_source(listener, source)) {
    listener.live.fetch_sub(1, std::memory_order_relaxed);
    live_.fetch_sub(1, std::memory_order_relaxed);
    return Verdict::SourceFull;
  }
  return Verdict::Admitted;
}

void ConnectionLimits::release(PerListener& listener, const IpAddress& source) noexcept {
  if (listener.sources) give_source(listener, source);
  listener.live.fetch_sub(1, std::memory_order_relaxed);
  live_.fetch_sub(1, std::memory_order_relaxed);
}

bool ConnectionLimits::move_source(PerListener& listener, const IpAddress& from, const IpAddress& to) {
  if (!listener.sources || address_key(from) == address_key(to)) return true;
  if (!take_source(listener, to)) return false;
  give_source(listener, from);
  return true;
}

bool ConnectionLimits::refused(PerListener& listener, std::uint64_t now_ms) noexcept {
  listener.last_refused_ms.store(now_ms, std::memory_order_relaxed);
  return listener.refused_in_episode.fetch_add(1, std::memory_order_relaxed) == 0;
}

std::uint64_t ConnectionLimits::admitting_again(PerListener& listener, std::uint64_t now_ms) noexcept {
  // The usual case, no episode: one read, no write to a line other workers share.
  if (listener.refused_in_episode.load(std::memory_order_relaxed) == 0) return 0;
  if (now_ms < listener.last_refused_ms.load(std::memory_order_relaxed) + kQuietMs) return 0;
  return listener.refused_in_episode.exchange(0, std::memory_order_relaxed);
}

bool ConnectionLimits::take_source(PerListener& listener, const IpAddress& source) {
  std::string key = address_key(source);
  Stripe& stripe = listener.sources[std::hash<std::string>{}(key) % kStripes];
  std::lock_guard guard(stripe.lock);
  std::uint32_t& count = stripe.counts[key];
  std::uint32_t limit = listener.max_per_source.load(std::memory_order_relaxed);
  if (limit && count >= limit) return false;  // a reload may have lifted the limit: keep counting
  ++count;
  return true;
}

void ConnectionLimits::give_source(PerListener& listener, const IpAddress& source) noexcept {
  std::string key = address_key(source);
  Stripe& stripe = listener.sources[std::hash<std::string>{}(key) % kStripes];
  std::lock_guard guard(stripe.lock);
  auto it = stripe.counts.find(key);
  if (it == stripe.counts.end()) return;
  if (--it->second == 0) stripe.counts.erase(it);
}

const char* describe(ConnectionLimits::Verdict verdict) noexcept {
  switch (verdict) {
    case ConnectionLimits::Verdict::Admitted: return "admitted";
    case ConnectionLimits::Verdict::ProcessFull: return "the process's max_connections";
    case ConnectionLimits::Verdict::ListenerFull: return "the listener's max_connections";
    case ConnectionLimits::Verdict::SourceFull: return "max_connections_per_source";
  }
  return "a limit";
}

}  // namespace passthru::core
