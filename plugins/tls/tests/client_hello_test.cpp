// Unit tests of parse_client_hello: captured hellos of real clients, every split of them
// (byte by byte, and re-cut into records at every offset), large hellos, and bad input.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "client_hello.hpp"
#include "hello_builder.hpp"

using namespace passthru::tls;
using namespace passthru::tls::testing;

namespace {

constexpr std::size_t kCapacity = 16384;

Bytes read_vector(const std::string& name) {
  std::ifstream in(std::string(PLUGIN_TEST_DATA) + "/vectors/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing vector " << name);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

HelloParse parse(const Bytes& b, bool eof = false, std::size_t capacity = kCapacity) {
  return parse_client_hello({b.data(), b.size()}, eof, capacity);
}

std::vector<std::string> offered_alpn(const ClientHello& hello) {
  std::vector<std::string> out;
  hello.any_alpn([&](std::string_view name) {
    out.emplace_back(name);
    return false;
  });
  return out;
}

/// Every prefix is NeedMore asking for more than it has; the whole is Complete with `sni`.
void check_every_prefix(const Bytes& input, const std::string& sni) {
  for (std::size_t n = 0; n < input.size(); ++n) {
    Bytes prefix(input.begin(), input.begin() + n);
    auto p = parse(prefix);
    REQUIRE_MESSAGE(p.status == HelloStatus::NeedMore, "prefix of " << n << " bytes");
    REQUIRE(p.need_bytes > n);
    REQUIRE(p.need_bytes <= input.size());
  }
  auto whole = parse(input);
  REQUIRE(whole.status == HelloStatus::Complete);
  CHECK(whole.hello.sni() == sni);
}

const char* const kVectors[] = {"openssl-3.0-s_client.bin", "curl-7.88-openssl.bin", "python-3.11-ssl.bin",
                                "node-20-tls.bin",          "gnutls-3.7-cli.bin",    "java-17-jsse.bin",
                                "chromium-156.bin"};

}  // namespace

TEST_CASE("every captured real client's hello gives its SNI, at every prefix length") {
  for (const char* name : kVectors) {
    CAPTURE(name);
    check_every_prefix(read_vector(name), "hello.example.test");
  }
}

TEST_CASE("python, node and java offer h2 then http/1.1, in that order") {
  for (const char* name : {"python-3.11-ssl.bin", "node-20-tls.bin", "java-17-jsse.bin"}) {
    CAPTURE(name);
    Bytes input = read_vector(name);  // the ALPN list views the input: keep it alive
    auto p = parse(input);
    REQUIRE(p.status == HelloStatus::Complete);
    CHECK(offered_alpn(p.hello) == std::vector<std::string>{"h2", "http/1.1"});
  }
}

TEST_CASE("every captured hello re-cut into two records at every offset gives the same SNI") {
  for (const char* name : kVectors) {
    CAPTURE(name);
    Bytes handshake = strip_records(read_vector(name));
    for (std::size_t cut = 1; cut < handshake.size(); ++cut) {
      CAPTURE(cut);
      auto p = parse(split_in_two_records(handshake, cut));
      REQUIRE(p.status == HelloStatus::Complete);
      REQUIRE(p.hello.sni() == "hello.example.test");
    }
  }
}

TEST_CASE("the post-quantum Chromium hello in one-byte records, fed byte by byte, gives its SNI") {
  Bytes records = in_records(strip_records(read_vector("chromium-156.bin")), 1);
  check_every_prefix(records, "hello.example.test");
}

TEST_CASE("a 20 KB hello over two records is read when the buffer can hold it") {
  Bytes big = build_hello({{"big.example.com"}, {"h2"}, 20000});
  REQUIRE(big.size() > 20000);
  auto p = parse(big, false, 65536);
  REQUIRE(p.status == HelloStatus::Complete);
  CHECK(p.hello.sni() == "big.example.com");
  CHECK(parse(big, false, 16384).status == HelloStatus::TooLarge);
}

TEST_CASE("a hello whose length cannot fit the buffer is TooLarge from its first record header on") {
  Bytes big = build_hello({{"big.example.com"}, {}, 40000});
  Bytes first(big.begin(), big.begin() + 9);  // record header + handshake header
  CHECK(parse(first, false, 16384).status == HelloStatus::TooLarge);
}

TEST_CASE("names are lower-cased and lose one trailing dot") {
  auto p = parse(build_hello({{"WWW.Example.COM."}, {}}));
  REQUIRE(p.status == HelloStatus::Complete);
  CHECK(p.hello.sni() == "www.example.com");
}

TEST_CASE("a hello without server_name is complete with no SNI") {
  Bytes input = build_hello({{}, {"h2"}});
  auto p = parse(input);
  REQUIRE(p.status == HelloStatus::Complete);
  CHECK(p.hello.sni_length == 0);
  CHECK(offered_alpn(p.hello) == std::vector<std::string>{"h2"});
}

TEST_CASE("bytes after the hello (early data, a ChangeCipherSpec) do not disturb it") {
  Bytes input = build_hello({{"a.example.com"}, {}});
  for (std::uint8_t b : {0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x02, 0xAA, 0xBB}) input.push_back(b);
  auto p = parse(input);
  REQUIRE(p.status == HelloStatus::Complete);
  CHECK(p.hello.sni() == "a.example.com");
}

TEST_CASE("bytes that cannot start TLS are NotTls from the first byte") {
  for (const char* text : {"GET / HTTP/1.1\r\n", "SSH-2.0-OpenSSH_9.2\r\n", "PROXY TCP4 ", "\x00"}) {
    Bytes input(text, text + std::max<std::size_t>(1, std::strlen(text)));
    CHECK(parse(Bytes(input.begin(), input.begin() + 1)).status == HelloStatus::NotTls);
  }
}

TEST_CASE("an empty input needs one byte, and is truncated at EOF") {
  CHECK(parse({}).status == HelloStatus::NeedMore);
  CHECK(parse({}).need_bytes == 1);
  CHECK(parse({}, true).status == HelloStatus::Truncated);
  CHECK(parse({0x16}, true).status == HelloStatus::Truncated);
}

TEST_CASE("bad record headers are not TLS: version, zero or oversized length") {
  CHECK(parse({0x16, 0x02}).status == HelloStatus::NotTls);                    // major version 2
  CHECK(parse({0x16, 0x03, 0x09}).status == HelloStatus::NotTls);              // minor version 9
  CHECK(parse({0x16, 0x03, 0x01, 0x00, 0x00}).status == HelloStatus::NotTls);  // zero length
  CHECK(parse({0x16, 0x03, 0x01, 0x40, 0x01}).status == HelloStatus::NotTls);  // 16385
  CHECK(parse({0x16, 0x03, 0x01, 0xFF, 0xFF}).status == HelloStatus::NotTls);  // 65535
}

TEST_CASE("a handshake message other than client_hello is malformed") {
  Bytes input = build_hello({{"a.example.com"}, {}});
  input[5] = 2;  // server_hello
  CHECK(parse(input).status == HelloStatus::Malformed);
}

TEST_CASE("a later record of another type before the hello is complete is malformed") {
  Bytes handshake = build_handshake({{"a.example.com"}, {}});
  Bytes input = split_in_two_records(handshake, 20);
  input[5 + 20] = 23;  // the second record claims to be application data
  CHECK(parse(input).status == HelloStatus::Malformed);
}

TEST_CASE("broken inner lengths are malformed, never read out of bounds") {
  Bytes good = build_handshake({{"a.example.com"}, {"h2"}});
  // Bump each byte of the body in turn; every result must be a clean verdict.
  for (std::size_t i = 4; i < good.size(); ++i) {
    for (int delta : {1, -1, 0x80}) {
      Bytes bad = good;
      bad[i] = static_cast<std::uint8_t>(bad[i] + delta);
      auto p = parse(in_records(bad), true);
      CHECK((p.status == HelloStatus::Complete || p.status == HelloStatus::Malformed ||
             p.status == HelloStatus::Truncated));
    }
  }
}

TEST_CASE("two host names, an empty name, a NUL in a name, and an empty ALPN name are malformed") {
  CHECK(parse(build_hello({{"a.example.com", "b.example.com"}, {}})).status == HelloStatus::Malformed);
  CHECK(parse(build_hello({{""}, {}})).status == HelloStatus::Malformed);
  CHECK(parse(build_hello({{std::string("a\0b.com", 7)}, {}})).status == HelloStatus::Malformed);
  CHECK(parse(build_hello({{"a.example.com"}, {"h2", ""}})).status == HelloStatus::Malformed);
}

TEST_CASE("a hello truncated by EOF is Truncated") {
  Bytes input = build_hello({{"a.example.com"}, {}});
  input.pop_back();
  CHECK(parse(input, true).status == HelloStatus::Truncated);
}

TEST_CASE("the SSLv2-compatible hello is TLS with no SNI") {
  // RFC 5246 E.2: length 0x22, CLIENT-HELLO, version 3.3, 9 bytes of cipher specs, no session
  // id, 16-byte challenge.
  Bytes v2{0x80, 0x22, 0x01, 0x03, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x2F,
           0x00, 0x00, 0x35, 0x00, 0x00, 0xFF, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
           0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10};
  for (std::size_t n = 0; n < v2.size(); ++n)
    REQUIRE(parse(Bytes(v2.begin(), v2.begin() + n)).status == HelloStatus::NeedMore);
  auto p = parse(v2);
  REQUIRE(p.status == HelloStatus::Complete);
  CHECK(p.hello.sslv2);
  CHECK(p.hello.sni_length == 0);
  CHECK(parse({0x80, 0x22, 0x02}).status == HelloStatus::NotTls);
}

TEST_CASE("an SSLv2-looking header too long for the buffer is judged by its type byte first") {
  // Found by the fuzzer: 0xFFFF claims 32 KiB, but byte 3 (0xFF) is no CLIENT-HELLO, so the
  // answer must be NotTls at every length, never TooLarge first.
  CHECK(parse({0xFF, 0xFF}, false, 4096).status == HelloStatus::NeedMore);
  CHECK(parse({0xFF, 0xFF, 0xFF}, false, 4096).status == HelloStatus::NotTls);
  CHECK(parse({0x80, 0xFF, 0x01, 0x03}, false, 64).status == HelloStatus::TooLarge);
}
