// Deadline: one timer that a connection's stages use in turn for what they wait for (the
// detection deadline while sniffing, the connect timeout while connecting, the relay's limits),
// so a connection holds one timer whatever stage it is in. The stage that arms it is the one told.
// DeadlineQueue: the worker's deadlines, kept by the worker itself behind one libuv timer.
//
// Why not a libuv timer per connection: each costs an insertion into and a removal from the
// loop's timer heap, whose nodes sit in other connections' memory, and a handle to close, which
// takes one more turn of libuv before the connection may go. Here a deadline is a node in one of
// the queue's bands: band b holds the deadlines that wait at least 2^b ms, each looked at 2^b ms
// after it was started. Within a band every wait is the same, so the band is in order by itself:
// starting appends, stopping unlinks, the earliest is first, all without a search. A deadline
// looked at before it is due (it waited more than 2^b) is put back for what is left, in a lower
// band; so one that fires is looked at once per bit of its wait at most, and one that never fires
// (most connections end first) costs one append and one unlink.
// A deadline moved later, or stopped, stays where it is (it is looked at early and put back);
// only a deadline moved earlier than its band's look is moved at once. A stage's deadline is
// mostly later than the one before (the defaults make it so), so a connection's deadline is
// mostly placed once.
#pragma once

#include <uv.h>

#include <cstdint>

namespace passthru::core {

class DeadlineQueue;

class Deadline {
 public:
  class Expiry {
   public:
    virtual void on_deadline() = 0;

   protected:
    ~Expiry() = default;
  };

  explicit Deadline(DeadlineQueue& queue) noexcept : queue_(&queue) {}
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() { close(); }

  /// Tells `who` once `ms` milliseconds have passed, unless started again or stopped first.
  void start(std::uint64_t ms, Expiry& who) noexcept;
  void stop() noexcept { due_ = kNever; }  // looked at when its band comes, it is found not due
  /// The loop's time in milliseconds, as of the start of this wake-up: a stamp, not a clock read.
  [[nodiscard]] std::uint64_t now() const noexcept;
  /// Never tells anything again; the deadline leaves the queue.
  void close() noexcept;

 private:
  friend class DeadlineQueue;
  static constexpr std::uint64_t kNever = ~std::uint64_t{0};
  static constexpr std::uint8_t kNoBand = 0xFF;

  DeadlineQueue* queue_;
  Expiry* expiry_ = nullptr;
  std::uint64_t due_ = kNever;       ///< the loop's time (ms) at which expiry_ is told
  std::uint64_t look_at_ = kNever;   ///< when its band looks at it; never after due_ while queued
  Deadline* next_ = nullptr;         ///< in its band, looked at later
  Deadline* previous_ = nullptr;
  std::uint8_t band_ = kNoBand;      ///< kNoBand: not in the queue
  bool closed_ = false;
};

class DeadlineQueue {
 public:
  /// Its one timer is a handle of `loop`, closed by close().
  explicit DeadlineQueue(uv_loop_t* loop) noexcept;
  DeadlineQueue(const DeadlineQueue&) = delete;
  DeadlineQueue& operator=(const DeadlineQueue&) = delete;

  [[nodiscard]] std::uint64_t now() const noexcept { return uv_now(loop_); }
  /// Closes the timer (the loop is stopping): deadlines are kept, and never told.
  void close() noexcept;

 private:
  friend class Deadline;
  static constexpr int kBands = 64;
  static constexpr int kDueNow = kBands;  ///< the band of those being told, in this call of on_timer
  struct Band {
    Deadline* first = nullptr;
    Deadline* last = nullptr;
  };

  void insert(Deadline& deadline, std::uint64_t wait_ms) noexcept;
  void remove(Deadline& deadline) noexcept;
  void append(int band, Deadline& deadline) noexcept;
  void arm() noexcept;
  static void on_timer(uv_timer_t* timer);
  void tell_due();

  uv_loop_t* loop_;
  uv_timer_t timer_{};
  std::uint64_t timer_at_ = Deadline::kNever;  ///< when the timer fires (kNever: stopped)
  std::uint64_t occupied_ = 0;                 ///< a bit per band that holds a deadline
  Band bands_[kBands + 1];
  bool telling_ = false;  ///< in tell_due(), which arms the timer once it is done
  bool closed_ = false;
};

inline std::uint64_t Deadline::now() const noexcept { return queue_->now(); }

}  // namespace passthru::core
