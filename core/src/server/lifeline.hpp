// Lifeline: keeps an object of the connection path alive until every libuv request it started
// has called back, then has it told, once, that it may go. libuv frees nothing itself: a
// request's memory must stay valid until its callback, even a cancelled one's.
// The object counts each request (or whatever else must end first, such as a tunnel's streams)
// with hold() and release(); once it has said it is done (let_go) and the count is zero, its
// owner is put on the worker's ReleaseList, which tells it (on_released) at the end of the turn
// of the loop: never inside the object's own call stack, where a stage that just told it of its
// end is still running. One mechanism for every object of the connection path.
#pragma once

#include <cstddef>
#include <vector>

namespace passthru::core {

class Lifeline {
 public:
  class Owner {
   public:
    /// Every request has called back and the owner is done: it may be deleted.
    virtual void on_released() = 0;

   protected:
    ~Owner() = default;
  };

  /// The worker's owners that may go, told at the end of each turn of its loop.
  class ReleaseList {
   public:
    ReleaseList() = default;
    ReleaseList(const ReleaseList&) = delete;
    ReleaseList& operator=(const ReleaseList&) = delete;

    void add(Owner& owner) { due_.push_back(&owner); }
    /// Tells each owner due, and those that become due meanwhile (a stream's release may let
    /// its connection go).
    void run() {
      for (std::size_t i = 0; i < due_.size(); ++i) due_[i]->on_released();
      due_.clear();
    }
    [[nodiscard]] bool empty() const noexcept { return due_.empty(); }

   private:
    std::vector<Owner*> due_;
  };

  Lifeline(Owner& owner, ReleaseList& releases) noexcept : owner_(&owner), releases_(&releases) {}
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;

  /// A request started (or something else the owner must wait for).
  void hold() noexcept { ++held_; }
  /// A request's callback came.
  void release() {
    --held_;
    maybe_released();
  }
  /// The owner is done: on_released() follows once nothing is held.
  void let_go() {
    done_ = true;
    maybe_released();
  }

 private:
  void maybe_released() {
    if (done_ && held_ == 0 && !told_) {
      told_ = true;
      releases_->add(*owner_);
    }
  }

  Owner* owner_;
  ReleaseList* releases_;
  int held_ = 0;
  bool done_ = false;
  bool told_ = false;
};

}  // namespace passthru::core
