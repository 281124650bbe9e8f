// Deadline: one timer that a connection's stages use in turn for what they wait for (the
// detection deadline while sniffing, the connect timeout while connecting), so a connection
// holds one timer handle whatever stage it is in. The stage that arms it is the one told.
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
    timer_.data = this;
    uv_timer_start(&timer_, on_timer, ms, 0);
  }
  void stop() noexcept { uv_timer_stop(&timer_); }
  /// The loop's time in milliseconds, as of the start of this wake-up: a stamp, not a clock read.
  [[nodiscard]] std::uint64_t now() const noexcept { return uv_now(timer_.loop); }
  /// Closes the timer for good (released through the Lifeline).
  void close() {
    if (closed_) return;
    closed_ = true;
    lifeline_->close(&timer_);
  }

 private:
  static void on_timer(uv_timer_t* timer) { static_cast<Deadline*>(timer->data)->expiry_->on_deadline(); }

  Lifeline* lifeline_;
  uv_timer_t timer_{};
  Expiry* expiry_ = nullptr;
  bool closed_ = false;
};

}  // namespace passthru::core
