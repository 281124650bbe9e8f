// Deadline: one timer that a connection's stages use in turn for what they wait for (the
// detection deadline while sniffing, the connect timeout while connecting), so a connection
// holds one timer handle whatever stage it is in. The stage that arms it is the one told.
// The libuv timer is armed lazily: a deadline moved later, or stopped, leaves it where it is,
// and when it fires early it is armed again for what is left; only a deadline moved earlier
// moves it at once. A stage's deadline is mostly later than the one before (the defaults make
// it so), and most connections end before the first fires, so a connection costs one
// insertion into the loop's timer heap and one removal, not one of each per stage.
#pragma once

#include <uv.h>

#include <cstdint>

#include "lifeline.hpp"

namespace passthru::core {

class Deadline {
 public:
  class Expiry {
   public:
    virtual void on_deadline() = 0;

   protected:
    ~Expiry() = default;
  };

  /// The timer is counted by `lifeline`, which closes it in close().
  Deadline(uv_loop_t* loop, Lifeline& lifeline) noexcept : lifeline_(&lifeline) {
    uv_timer_init(loop, &timer_);
    lifeline.hold();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  /// Tells `who` once `ms` milliseconds have passed, unless armed again or stopped first.
  void start(std::uint64_t ms, Expiry& who) noexcept {
    expiry_ = &who;
    due_ = uv_now(timer_.loop) + ms;
    if (armed_at_ <= due_) return;  // the timer fires first, and is armed again for the rest
    arm(ms);
  }
  void stop() noexcept { due_ = kNever; }  // the armed timer, when it fires, finds nothing due
  /// The loop's time in milliseconds, as of the start of this wake-up: a stamp, not a clock read.
  [[nodiscard]] std::uint64_t now() const noexcept { return uv_now(timer_.loop); }
  /// Closes the timer for good (released through the Lifeline).
  void close() {
    if (closed_) return;
    closed_ = true;
    lifeline_->close(&timer_);
  }

 private:
  static constexpr std::uint64_t kNever = ~std::uint64_t{0};

  void arm(std::uint64_t ms) noexcept {
    armed_at_ = uv_now(timer_.loop) + ms;
    timer_.data = this;
    uv_timer_start(&timer_, on_timer, ms, 0);
  }
  static void on_timer(uv_timer_t* timer) {
    auto* self = static_cast<Deadline*>(timer->data);
    self->armed_at_ = kNever;
    std::uint64_t now = uv_now(timer->loop);
    if (self->due_ == kNever) return;  // stopped since it was armed
    if (now < self->due_) {            // moved later since it was armed
      self->arm(self->due_ - now);
      return;
    }
    self->due_ = kNever;
    self->expiry_->on_deadline();
  }

  Lifeline* lifeline_;
  uv_timer_t timer_{};
  Expiry* expiry_ = nullptr;
  std::uint64_t due_ = kNever;       ///< the loop's time (ms) at which expiry_ is told
  std::uint64_t armed_at_ = kNever;  ///< when the libuv timer fires (kNever: not armed); never after due_
  bool closed_ = false;
};

}  // namespace passthru::core
