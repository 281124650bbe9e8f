#include "deadline.hpp"

#include <algorithm>
#include <bit>

namespace passthru::core {

void Deadline::start(std::uint64_t ms, Expiry& who) noexcept {
  expiry_ = &who;
  due_ = queue_->now() + ms;
  if (closed_ || look_at_ <= due_) return;  // queued to be looked at first, and put back then for the rest
  if (band_ != kNoBand) queue_->remove(*this);
  queue_->insert(*this, ms);
}

void Deadline::close() noexcept {
  if (closed_) return;
  closed_ = true;
  due_ = kNever;
  if (band_ != kNoBand) queue_->remove(*this);
}

DeadlineQueue::DeadlineQueue(uv_loop_t* loop) noexcept : loop_(loop) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void DeadlineQueue::close() noexcept {
  if (closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);  // the worker's last run of its loop ends it
}

void DeadlineQueue::insert(Deadline& deadline, std::uint64_t wait_ms) noexcept {
  wait_ms = std::max<std::uint64_t>(wait_ms, 1);  // a wait of 0 is told at the next millisecond
  int band = std::bit_width(wait_ms) - 1;  // the largest 2^band not above the wait
  deadline.look_at_ = now() + (std::uint64_t{1} << band);
  append(band, deadline);
  if (!telling_ && deadline.look_at_ < timer_at_) arm();
}

void DeadlineQueue::append(int band, Deadline& deadline) noexcept {
  Band& into = bands_[band];
  deadline.band_ = static_cast<std::uint8_t>(band);
  deadline.next_ = nullptr;
  deadline.previous_ = into.last;
  (into.last ? into.last->next_ : into.first) = &deadline;
  into.last = &deadline;
  if (band < kBands) occupied_ |= std::uint64_t{1} << band;
}

void DeadlineQueue::remove(Deadline& deadline) noexcept {
  Band& from = bands_[deadline.band_];
  (deadline.previous_ ? deadline.previous_->next_ : from.first) = deadline.next_;
  (deadline.next_ ? deadline.next_->previous_ : from.last) = deadline.previous_;
  if (!from.first && deadline.band_ < kBands) occupied_ &= ~(std::uint64_t{1} << deadline.band_);
  deadline.band_ = Deadline::kNoBand;
  deadline.look_at_ = Deadline::kNever;
  deadline.next_ = deadline.previous_ = nullptr;
}

void DeadlineQueue::arm() noexcept {
  if (closed_) return;
  std::uint64_t first = Deadline::kNever;
  for (std::uint64_t bands = occupied_; bands != 0; bands &= bands - 1)
    first = std::min(first, bands_[std::countr_zero(bands)].first->look_at_);
  if (first == timer_at_) return;
  timer_at_ = first;
  if (first == Deadline::kNever) {
    uv_timer_stop(&timer_);
    return;
  }
  std::uint64_t now = this->now();
  uv_timer_start(&timer_, on_timer, first > now ? first - now : 0, 0);
}

void DeadlineQueue::on_timer(uv_timer_t* timer) { static_cast<DeadlineQueue*>(timer->data)->tell_due(); }

void DeadlineQueue::tell_due() {
  timer_at_ = Deadline::kNever;
  telling_ = true;
  std::uint64_t now = this->now();
  // First every deadline looked at now moves to the band of those being told: a stage told may
  // start, stop or close any other deadline, one being told included, and each finds its own
  // where it expects it.
  for (std::uint64_t bands = occupied_; bands != 0; bands &= bands - 1) {
    Band& band = bands_[std::countr_zero(bands)];
    while (band.first && band.first->look_at_ <= now) {
      Deadline& deadline = *band.first;
      remove(deadline);
      append(kDueNow, deadline);
      deadline.look_at_ = now;  // a start() for later leaves it here, to be put back below
    }
  }
  while (Deadline* deadline = bands_[kDueNow].first) {
    remove(*deadline);
    if (deadline->due_ == Deadline::kNever) continue;  // stopped since
    if (deadline->due_ > now) {                         // started again for later since
      insert(*deadline, deadline->due_ - now);
      continue;
    }
    deadline->due_ = Deadline::kNever;
    deadline->expiry_->on_deadline();
  }
  telling_ = false;
  arm();
}

}  // namespace passthru::core
