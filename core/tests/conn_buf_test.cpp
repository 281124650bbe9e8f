// Unit tests of ConnBuf and BufferPool: bounded, lazily taken, given back.
#include <doctest/doctest.h>

#include <cstring>

#include "server/conn_buf.hpp"

using namespace passthru::core;

TEST_CASE("a ConnBuf takes its buffer only at the first read and never grows past capacity") {
  BufferPool pool(16, 4);
  ConnBuf buf(pool);
  CHECK(buf.size() == 0);
  uv_buf_t space = buf.free_space();
  CHECK(space.len == 16);
  std::memcpy(space.base, "0123456789", 10);
  buf.commit(10);
  CHECK(buf.free_space().len == 6);
  buf.commit(6);
  CHECK(buf.full());
  CHECK(buf.free_space().len == 0);
  CHECK(std::string_view(reinterpret_cast<const char*>(buf.bytes().data()), 10) == "0123456789");
}

TEST_CASE("a released buffer goes back to the pool and is reused") {
  BufferPool pool(16, 4);
  char* first = nullptr;
  {
    ConnBuf buf(pool);
    first = buf.free_space().base;
  }
  ConnBuf again(pool);
  CHECK(again.free_space().base == first);
}
