#include "backend_pool.hpp"

#include "address_bytes.hpp"

namespace passthru::core {

std::uint64_t source_weight(const sockaddr* client, std::uint8_t backend) noexcept {
  const std::uint8_t* bytes = nullptr;
  sa_family_t family = address_bytes(client, bytes);
  std::size_t size = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis
  auto mix = [&hash](std::uint8_t byte) {
    hash ^= byte;
    hash *= 1099511628211ull;  // FNV prime
  };
  for (std::size_t i = 0; i < size; ++i) mix(bytes[i]);
  mix(backend);
  // A final avalanche (splitmix64's), so that neighbouring addresses spread over backends.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ull;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebull;
  return hash ^ (hash >> 31);
}

BackendPool::BackendPool(std::vector<Endpoint> backends, Balance balance, std::uint32_t down_ms)
    : backends_(std::move(backends)), balance_(balance), down_ms_(down_ms),
      state_(std::make_unique<State[]>(backends_.size())) {}

bool BackendPool::is_down(std::uint8_t i, std::uint64_t now_ms) const noexcept {
  return state_[i].down_until.load(std::memory_order_relaxed) > now_ms;
}

std::uint8_t BackendPool::pick(const sockaddr* client, std::uint64_t now_ms, std::uint32_t tried) noexcept {
  const auto count = static_cast<std::uint8_t>(backends_.size());
  std::uint8_t start = 0;
  if (balance_ != Balance::SourceHash) start = static_cast<std::uint8_t>(turn_.fetch_add(1, std::memory_order_relaxed) % count);
  std::uint8_t best = kNone;
  std::uint64_t best_score = 0;
  for (std::uint8_t k = 0; k < count; ++k) {
    auto i = static_cast<std::uint8_t>((start + k) % count);
    if (tried >> i & 1 || is_down(i, now_ms)) continue;
    std::uint64_t score = balance_ == Balance::RoundRobin  ? 0
                          : balance_ == Balance::LeastConn ? ~std::uint64_t{active(i)}
                                                           : source_weight(client, i);
    if (best == kNone || score > best_score) {
      best = i;
      best_score = score;
    }
  }
  if (best != kNone) return best;
  // Every untried backend is down: try the one that comes back first rather than none.
  for (std::uint8_t i = 0; i < count; ++i) {
    if (tried >> i & 1) continue;
    std::uint64_t until = state_[i].down_until.load(std::memory_order_relaxed);
    if (best == kNone || until < best_score) {
      best = i;
      best_score = until;
    }
  }
  return best;
}

void BackendPool::mark_down(std::uint8_t i, std::uint64_t now_ms) noexcept {
  state_[i].down_until.store(now_ms + down_ms_, std::memory_order_relaxed);
}

void BackendPool::connected(std::uint8_t i) noexcept {
  state_[i].down_until.store(0, std::memory_order_relaxed);
  state_[i].active.fetch_add(1, std::memory_order_relaxed);
}

void BackendPool::released(std::uint8_t i) noexcept { state_[i].active.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace passthru::core
