// Unit tests of append_log_value: plain values stay as they are; every value that could split,
// end or forge a `key=value` log line is quoted, with its bytes escaped.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "router/log_value.hpp"

using namespace passthru::core;

namespace {

std::string logged(std::string_view value) {
  std::string line;
  append_log_value(line, value);
  return line;
}

}  // namespace

TEST_CASE("a host name, an ALPN list and a version are written as they are") {
  CHECK(logged("a.example.com") == "a.example.com");
  CHECK(logged("h2,http/1.1") == "h2,http/1.1");
  CHECK(logged("OpenSSH_9.2p1") == "OpenSSH_9.2p1");
  CHECK(logged("[2001:db8::1]") == "[2001:db8::1]");
}

TEST_CASE("an empty value is written as two quotes, so the next field cannot pass for it") {
  CHECK(logged("") == R"("")");
}

TEST_CASE("CR and LF are escaped, so a value cannot end the line and start a forged one") {
  std::string line = logged("x\r\nclient=6.6.6.6 end=done");
  CHECK(line == R"("x\r\nclient=6.6.6.6 end=done")");
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\r') == std::string::npos);
}

TEST_CASE("a value with a space is quoted, so it stays one field") {
  CHECK(logged("OpenSSH_9.2p1 Debian-2") == R"("OpenSSH_9.2p1 Debian-2")");
}

TEST_CASE("quotes and backslashes are escaped inside the quotes") {
  CHECK(logged(R"(say "hi")") == R"("say \"hi\"")");
  CHECK(logged(R"(a\b)") == R"("a\\b")");
  CHECK(logged(R"(\")") == R"("\\\"")");
}

TEST_CASE("a value with parentheses is quoted, so a bare (ambiguous) can only be the flag") {
  CHECK(logged("(ambiguous)") == "\"(ambiguous)\"");
}

TEST_CASE("other control bytes, DEL and bytes from 0x80 are written as \\xHH") {
  CHECK(logged(std::string_view("\0\x01\x1b[2J\t", 7)) == R"("\x00\x01\x1b[2J\t")");
  CHECK(logged("\x7f\x80\xff") == R"("\x7f\x80\xff")");
  CHECK(logged("caf\xc3\xa9") == R"("caf\xc3\xa9")");
}
