// Lifeline: keeps an object alive until every libuv handle and request it started has called
// back, then tells it once that it may go. libuv frees nothing itself: a handle's memory must
// stay valid until its close callback, a request's until its callback (even a cancelled one).
// The object counts each with hold() and has the Lifeline close its handles; once it has said
// it is done (let_go) and the count falls to zero, on_released() is called: from a loop
// callback, never from inside the object's own call stack, since a handle or request is always
// still out when let_go() is first called. One mechanism for every object of the connection path.
#pragma once

#include <uv.h>

namespace passthru::core {

class Lifeline {
 public:
  class Owner {
   public:
    /// Every handle is closed and every request has called back: the owner may be deleted.
    virtual void on_released() = 0;

   protected:
    ~Owner() = default;
  };

  explicit Lifeline(Owner& owner) noexcept : owner_(&owner) {}
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;

  /// A handle was initialised, or a request started.
  void hold() noexcept { ++held_; }
  /// A request's callback came (a handle's close is counted by close()).
  void release() {
    --held_;
    maybe_released();
  }
  /// Closes a handle that hold() counted; it is released in its close callback.
  void close(uv_handle_t* handle) {
    handle->data = this;
    uv_close(handle, on_closed);
  }
  template <typename Handle>
  void close(Handle* handle) {
    close(reinterpret_cast<uv_handle_t*>(handle));
  }
  /// The owner is done: on_released() follows once nothing is held.
  void let_go() {
    done_ = true;
    maybe_released();
  }

 private:
  static void on_closed(uv_handle_t* handle) { static_cast<Lifeline*>(handle->data)->release(); }
  void maybe_released() {
    if (done_ && held_ == 0 && !told_) {
      told_ = true;
      owner_->on_released();
    }
  }

  Owner* owner_;
  int held_ = 0;
  bool done_ = false;
  bool told_ = false;
};

}  // namespace passthru::core
