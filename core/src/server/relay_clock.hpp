// RelayClock: what a relay's timeouts (idle, half-closed, lifetime) say at a given moment. The
// relay stamps its activity as bytes move, with the loop's cached time (uv_now: no clock call,
// no timer restarted per read); its Deadline is armed only at the start, at the first FIN and
// when it fires, each time for exactly what remains of the nearest limit. So a connection that
// keeps talking costs one timer wake-up per idle period, and a limit is kept to within one loop
// turn (the stamp is the loop's time as that wake-up began, usually well under a millisecond).
// It is pure arithmetic: it holds no handle and does no I/O.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "../config/config.hpp"
#include "close_reason.hpp"

namespace passthru::core {

class RelayClock {
 public:
  /// What check() found: a limit passed (`expired`), or how long until the nearest one (0: none set).
  struct Verdict {
    std::optional<CloseReason> expired;
    std::uint64_t wait_ms = 0;
  };

  void start(const RelayTimeouts& limits, std::uint64_t now) noexcept {
    limits_ = limits;
    started_ = last_active_ = now;
    half_closed_ = false;
  }
  /// A byte moved, in either direction.
  void active(std::uint64_t now) noexcept { last_active_ = now; }
  /// One side sent its FIN; the first call counts.
  void half_closed(std::uint64_t now) noexcept {
    if (half_closed_) return;
    half_closed_ = true;
    half_closed_at_ = now;
  }

  /// The limit due first decides: passed already, or how long until it is.
  [[nodiscard]] Verdict check(std::uint64_t now) const noexcept {
    std::uint64_t nearest = UINT64_MAX;
    CloseReason why = CloseReason::IdleTimeout;
    auto consider = [&](std::uint32_t limit, std::uint64_t since, CloseReason reason) {
      if (limit != 0 && since + limit < nearest) {
        nearest = since + limit;
        why = reason;
      }
    };
    consider(limits_.max_lifetime_ms, started_, CloseReason::MaxLifetime);
    if (half_closed_) consider(limits_.half_closed_ms, half_closed_at_, CloseReason::HalfClosedTimeout);
    consider(limits_.idle_ms, last_active_, CloseReason::IdleTimeout);
    if (nearest == UINT64_MAX) return {};
    if (nearest <= now) return {why, 0};
    return {std::nullopt, nearest - now};
  }

 private:
  RelayTimeouts limits_;
  std::uint64_t started_ = 0;
  std::uint64_t last_active_ = 0;
  std::uint64_t half_closed_at_ = 0;
  bool half_closed_ = false;
};

}  // namespace passthru::core
