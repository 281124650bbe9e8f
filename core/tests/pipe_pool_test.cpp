// Unit tests of PipePool: pipes reused, kept within a limit, and bytes really pass through them.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "server/pipe_pool.hpp"

using namespace passthru::core;

TEST_CASE("a given-back pipe is the next one taken") {
  PipePool pool(4, 8);
  KernelPipe* first = pool.take();
  REQUIRE(first != nullptr);
  pool.give(first);
  CHECK(pool.take() == first);
  pool.give(first);
}

TEST_CASE("no more pipes than the limit exist at once; a destroyed one makes room") {
  PipePool pool(4, 3);
  std::vector<KernelPipe*> taken;
  for (int i = 0; i < 3; ++i) taken.push_back(pool.take());
  for (KernelPipe* p : taken) REQUIRE(p != nullptr);
  CHECK(pool.take() == nullptr);  // the relay copies through a buffer instead
  pool.destroy(taken.back());     // it held bytes nobody will read
  taken.pop_back();
  KernelPipe* again = pool.take();
  CHECK(again != nullptr);
  taken.push_back(again);
  for (KernelPipe* p : taken) pool.give(p);
}

TEST_CASE("pipes beyond the ones kept are closed when given back") {
  PipePool pool(1, 8);
  KernelPipe* a = pool.take();
  KernelPipe* b = pool.take();
  int b_fd = b->read_fd;
  pool.give(a);
  pool.give(b);  // one is kept already: this one is closed
  CHECK(fcntl(b_fd, F_GETFD) == -1);
  CHECK(pool.take() == a);
  pool.give(a);
}

TEST_CASE("a pipe carries bytes, and holds at least the default 64 KiB") {
  PipePool pool(1, 1);
  KernelPipe* p = pool.take();
  REQUIRE(p != nullptr);
  CHECK(p->capacity >= 64 * 1024);
  CHECK(fcntl(p->write_fd, F_GETPIPE_SZ) >= static_cast<int>(p->capacity));
  CHECK(write(p->write_fd, "abc", 3) == 3);
  char got[3];
  CHECK(read(p->read_fd, got, 3) == 3);
  CHECK(std::string(got, 3) == "abc");
  pool.give(p);
}
