// Unit tests of parse_request_head: captured requests of real clients at every prefix, the
// RFC 9112 edge cases, and the ambiguous heads that must never be routed by a host.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "request_head.hpp"

using namespace passthru::http;

namespace {

constexpr std::size_t kCapacity = 16384;

std::string read_vector(const std::string& name) {
  std::ifstream in(std::string(PLUGIN_TEST_DATA) + "/vectors/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing vector " << name);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Parses a copy of `s` kept until the next call, since method and path view the input.
HeadParse parse(const std::string& s, bool eof = false, bool with_headers = true, std::size_t capacity = kCapacity) {
  static std::string kept;
  kept = s;
  return parse_request_head({reinterpret_cast<const std::uint8_t*>(kept.data()), kept.size()}, eof, capacity,
                            with_headers);
}

/// The parse of `s`, after checking that every shorter prefix asks for more than it has.
HeadParse parse_every_prefix(const std::string& s, bool with_headers = true) {
  for (std::size_t n = 0; n < s.size(); ++n) {
    auto p = parse(s.substr(0, n), false, with_headers);
    if (p.status != HeadStatus::NeedMore) {
      // Complete before the end is fine only once the head is over (bytes after it are body).
      REQUIRE_MESSAGE(p.status == HeadStatus::Complete, "prefix of " << n << " bytes");
      return parse(s, false, with_headers);
    }
    REQUIRE(p.need_bytes > n);
  }
  return parse(s, false, with_headers);
}

}  // namespace

TEST_CASE("captured requests of curl, wget and python give their host, at every prefix") {
  struct Case { const char* file; const char* method; const char* host; const char* path; };
  for (auto c : {Case{"curl-7.88.txt", "GET", "a.example.test", "/path"},
                 Case{"wget-1.21.txt", "GET", "a.example.test", "/index.html"},
                 Case{"python-3.11-urllib.txt", "GET", "127.0.0.1", "/x"},
                 Case{"curl-proxy-absolute-form.txt", "GET", "b.example.test", "/abs"},
                 Case{"curl-connect.txt", "CONNECT", "c.example.test", ""}}) {
    CAPTURE(c.file);
    std::string input = read_vector(c.file);
    auto p = parse_every_prefix(input);
    REQUIRE(p.status == HeadStatus::Complete);
    CHECK(p.head.method == c.method);
    CHECK(p.head.host_state == HostState::Usable);
    CHECK(p.head.host() == c.host);
    CHECK(p.head.path == c.path);
  }
}

TEST_CASE("curl's h2c prior-knowledge preface is recognised at 24 bytes") {
  std::string input = read_vector("curl-h2c-prior-knowledge.bin");
  for (std::size_t n = 0; n < 24; ++n) REQUIRE(parse(input.substr(0, n)).status == HeadStatus::NeedMore);
  auto p = parse(input.substr(0, 24));
  REQUIRE(p.status == HeadStatus::Complete);
  CHECK(p.head.h2c);
  CHECK(parse("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n").status == HeadStatus::Malformed);
  CHECK(parse("GET / HTTP/2.0\r\n\r\n").status == HeadStatus::Malformed);
}

TEST_CASE("every standard and WebDAV method is recognised") {
  for (const char* method : {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
                             "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT"}) {
    CAPTURE(method);
    std::string target = std::string(method) == "CONNECT" ? "a.test:443" : std::string(method) == "OPTIONS" ? "*" : "/";
    auto p = parse(std::string(method) + " " + target + " HTTP/1.1\r\nHost: a.test\r\n\r\n");
    REQUIRE(p.status == HeadStatus::Complete);
    CHECK(p.head.method == method);
  }
}

TEST_CASE("the host is lower-cased and loses its port and one trailing dot") {
  auto p = parse("GET / HTTP/1.1\r\nHost: Example.COM.:8080\r\n\r\n");
  REQUIRE(p.status == HeadStatus::Complete);
  CHECK(p.head.host() == "example.com");
}

TEST_CASE("an IPv6 literal host keeps its brackets and loses its port") {
  auto p = parse("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n");
  REQUIRE(p.head.host_state == HostState::Usable);
  CHECK(p.head.host() == "[2001:db8::1]");
}

TEST_CASE("an absolute-form target's authority wins over the Host field") {
  auto p = parse("GET http://a.example/x?y HTTP/1.1\r\nHost: b.example\r\n\r\n");
  CHECK(p.head.host() == "a.example");
  CHECK(p.head.path == "/x");
  auto with_user = parse("GET http://user:pw@c.example:81 HTTP/1.1\r\nHost: b.example\r\n\r\n");
  CHECK(with_user.head.host() == "c.example");
  CHECK(with_user.head.path == "/");
}

TEST_CASE("a CONNECT request's authority is its host") {
  auto p = parse("CONNECT a.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n");
  CHECK(p.head.host() == "a.example");
}

TEST_CASE("empty lines before the request line are ignored") {
  auto p = parse("\r\n\nGET / HTTP/1.1\r\nHost: x.test\r\n\r\n");
  REQUIRE(p.status == HeadStatus::Complete);
  CHECK(p.head.host() == "x.test");
}

TEST_CASE("bare LF line ends are accepted") {
  auto p = parse("GET / HTTP/1.1\nHost: x.test\n\n");
  REQUIRE(p.status == HeadStatus::Complete);
  CHECK(p.head.host() == "x.test");
}

TEST_CASE("ambiguous heads have no usable host") {
  for (const char* head : {"GET / HTTP/1.1\r\nHost : x.test\r\n\r\n",             // space before colon
                           "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",  // two hosts
                           "GET / HTTP/1.1\r\nHost: a.test\r\n b.test\r\n\r\n",       // obs-fold
                           "GET / HTTP/1.1\r\nX: 1\r\n\tcontinued\r\nHost: a.test\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: a.test\rb.test\r\n\r\n",          // bare CR
                           "GET / HTTP/1.1\r\nHost: a test\r\n\r\n",                  // bad value
                           "GET / HTTP/1.1\r\nno colon here\r\nHost: a.test\r\n\r\n",
                           "GET http://[zz]/ HTTP/1.1\r\nHost: a.test\r\n\r\n"}) {
    CAPTURE(head);
    auto p = parse(head);
    REQUIRE(p.status == HeadStatus::Complete);
    CHECK(p.head.host_state == HostState::Ambiguous);
  }
}

TEST_CASE("the same Host twice is still that host") {
  auto p = parse("GET / HTTP/1.1\r\nHost: a.test\r\nhost: A.TEST\r\n\r\n");
  CHECK(p.head.host_state == HostState::Usable);
  CHECK(p.head.host() == "a.test");
}

TEST_CASE("an HTTP/1.0 request without Host has no host") {
  auto p = parse("GET / HTTP/1.0\r\n\r\n");
  REQUIRE(p.status == HeadStatus::Complete);
  CHECK(p.head.host_state == HostState::None);
}

TEST_CASE("a Host line split across reads is never taken half-way") {
  auto p = parse("GET / HTTP/1.1\r\nHost: exam");
  CHECK(p.status == HeadStatus::NeedMore);
  p = parse("GET / HTTP/1.1\r\nHost: example.com\r\n");
  CHECK(p.status == HeadStatus::NeedMore);  // a second Host may still come
}

TEST_CASE("without HOST rules the head is complete at the end of the request line") {
  auto p = parse("GET /api/v1 HTTP/1.1\r\n", false, false);
  REQUIRE(p.status == HeadStatus::Complete);
  CHECK(p.head.path == "/api/v1");
}

TEST_CASE("bytes that cannot start a request are NotHttp early") {
  CHECK(parse("\x16").status == HeadStatus::NotHttp);
  CHECK(parse("SSH-2.0-OpenSSH_9.2p1\r\n").status == HeadStatus::NotHttp);
  CHECK(parse("GET\r").status == HeadStatus::NotHttp);
  CHECK(parse(" GET").status == HeadStatus::NotHttp);
  CHECK(parse(std::string(40, 'A')).status == HeadStatus::NotHttp);
  CHECK(parse("GET /\r\n").status == HeadStatus::NotHttp);  // HTTP/0.9 is not served
  CHECK(parse("\r\r").status == HeadStatus::NotHttp);
}

TEST_CASE("a request line that breaks the grammar after the method is malformed") {
  CHECK(parse("GET  / HTTP/1.1\r\n").status == HeadStatus::Malformed);
  CHECK(parse("GET / HTTX/1.1\r\n").status == HeadStatus::Malformed);
  CHECK(parse("GET / HTTP/1.1x\r\n").status == HeadStatus::Malformed);
  CHECK(parse("GET / HTTP/3.0\r\n").status == HeadStatus::Malformed);
  CHECK(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n").status == HeadStatus::Malformed);
  CHECK(parse("GET /\x01 HTTP/1.1\r\n").status == HeadStatus::Malformed);
}

TEST_CASE("a head larger than the buffer is TooLarge, and EOF before its end is Truncated") {
  std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a');
  CHECK(parse(big).status == HeadStatus::TooLarge);
  CHECK(parse("GET / HTTP/1.1\r\nHost: a", true).status == HeadStatus::Truncated);
  CHECK(parse("", true).status == HeadStatus::Truncated);
}
