// ByteReader's steps for text protocols: compare (found, too few, differs), literals, lines read
// to a delimiter, decimal numbers, peeking; none reads past the end or moves on a failure's look.
#include <doctest/doctest.h>

#include <string>

#include "passthru/sdk/bytes.hpp"

using passthru::sdk::ByteReader;
using passthru::sdk::ByteSpan;
using passthru::sdk::Expect;

namespace {
ByteSpan span_of(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }
}  // namespace

TEST_CASE("compare tells found, too few to tell, and differs apart without moving") {
  std::string text = "*2\r\n";
  ByteReader r(span_of(text));
  CHECK(r.compare("*2") == Expect::Found);
  CHECK(r.compare("*2\r\n$") == Expect::TooFew);
  CHECK(r.compare("*3") == Expect::Differs);
  CHECK(r.compare("") == Expect::Found);
  CHECK(r.position() == 0);
  CHECK(r.ok());
  ByteReader empty(ByteSpan{});
  CHECK(empty.compare("*") == Expect::TooFew);
}

TEST_CASE("a literal is read whole or fails the reader") {
  std::string text = "GET /";
  ByteReader r(span_of(text));
  CHECK(r.read_literal("GET "));
  CHECK(r.position() == 4);
  CHECK_FALSE(r.read_literal("/x"));
  CHECK_FALSE(r.ok());
  CHECK(r.compare("/") == Expect::Differs);  // a failed reader finds nothing
}

TEST_CASE("read_until gives the bytes before the delimiter and steps over it") {
  std::string text = "Host: a\r\nX: b\r\n";
  ByteReader r(span_of(text));
  ByteSpan line;
  REQUIRE(r.read_until("\r\n", line));
  CHECK(passthru::sdk::as_chars(line) == "Host: a");
  REQUIRE(r.read_until("\r\n", line, 4));
  CHECK(passthru::sdk::as_chars(line) == "X: b");
  CHECK(r.empty());
  CHECK_FALSE(r.read_until("\r\n", line));
  ByteReader long_line(span_of(text));
  CHECK_FALSE(long_line.read_until("\r\n", line, 6));  // 7 bytes before it: over the limit
  ByteReader unfinished(span_of("abc\r"));
  CHECK_FALSE(unfinished.read_until("\r\n", line));
}

TEST_CASE("read_decimal reads up to the first other byte, within its digits") {
  std::string text = "1234\r\n";
  ByteReader r(span_of(text));
  std::uint64_t n = 0;
  REQUIRE(r.read_decimal(n));
  CHECK(n == 1234);
  CHECK(r.compare("\r\n") == Expect::Found);
  ByteReader too_many(span_of(text));
  CHECK_FALSE(too_many.read_decimal(n, 3));
  ByteReader none(span_of("x1"));
  CHECK_FALSE(none.read_decimal(n));
  ByteReader at_end(span_of("42"));
  REQUIRE(at_end.read_decimal(n));
  CHECK(n == 42);
  CHECK(at_end.compare("\r\n") == Expect::TooFew);  // more digits or the line's end may follow
  ByteReader biggest(span_of("18446744073709551615"));  // 20 digits: more than 19 are refused
  CHECK_FALSE(biggest.read_decimal(n));
}

TEST_CASE("peek_u8 looks without moving, and says false at the end") {
  std::string text = "A";
  ByteReader r(span_of(text));
  std::uint8_t b = 0;
  REQUIRE(r.peek_u8(b));
  CHECK(b == 'A');
  CHECK(r.position() == 0);
  r.skip(1);
  CHECK_FALSE(r.peek_u8(b));
  CHECK(r.ok());
}
