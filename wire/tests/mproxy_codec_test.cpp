// Unit tests of the M-PROXY codec: the messages proxy-packer 2.0.4 writes (research examples,
// checked against it), every chunking of a stream, and the strict answers to what the
// reference reads sloppily. The byte-for-byte comparison with the installed reference itself
// is tests/integration/mproxy/test_reference.py.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "passthru/wire/mproxy_codec.hpp"

using namespace passthru::mproxy;

namespace {

const Meta kClient{"IPv4", "127.0.1.1", "4321", "https", "443", "example.com"};

std::string packed(Kind kind, const Meta& meta, std::string_view body, bool oldways = false) {
  std::string error;
  auto out = pack(kind, meta, body, oldways, error);
  REQUIRE_MESSAGE(out, error);
  return *out;
}

std::string frame(const std::string& header) { return std::string("\xFE") + static_cast<char>(header.size()) + header; }

std::vector<Message> decode(const std::string& stream, std::size_t chunk, std::string* error = nullptr) {
  Decoder decoder;
  std::vector<Message> out;
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    if (!decoder.feed(std::string_view(stream).substr(at, chunk), [&](Message&& m) { out.push_back(std::move(m)); })) {
      if (error) *error = decoder.error();
      return out;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("pack writes what proxy-packer writes, for each kind") {
  CHECK(packed(Kind::Data, kClient, "hello") == frame("IPv4,127.0.1.1,4321,5,https,443,example.com") + "hello");
  CHECK(packed(Kind::Connection, kClient, "") == frame("IPv4,127.0.1.1,4321,0,connection,443,example.com,https"));
  CHECK(packed(Kind::Connection, kClient, "", true) == frame("IPv4,127.0.1.1,4321,1,connection,443,example.com,https") + " ");
  CHECK(packed(Kind::End, kClient, "") == frame("IPv4,127.0.1.1,4321,0,end,443,example.com"));
  CHECK(packed(Kind::Control, {}, R"([1,"hello",[254],["add_token"]])") ==
        frame(",,,31,control") + R"([1,"hello",[254],["add_token"]])");
  CHECK(packed(Kind::Error, kClient, R"({"message":"x","code":"E"})") ==
        frame("IPv4,127.0.1.1,4321,26,error,443,example.com") + R"({"message":"x","code":"E"})");
}

TEST_CASE("pack refuses what proxy-packer would corrupt") {
  std::string error;
  Meta long_name = kClient;
  long_name.name = std::string(300, 'a');
  CHECK_FALSE(pack(Kind::Data, long_name, "x", false, error));
  CHECK(error.find("255") != std::string::npos);
  Meta comma = kClient;
  comma.name = "a,b";
  CHECK_FALSE(pack(Kind::Data, comma, "x", false, error));
  CHECK(error.find("comma") != std::string::npos);
}

TEST_CASE("a stream of every kind decodes the same whole, byte by byte, and in uneven chunks") {
  std::string stream = packed(Kind::Connection, kClient, "") + packed(Kind::Data, kClient, "hello") +
                       packed(Kind::Pause, kClient, "1024") + packed(Kind::Resume, kClient, "") +
                       packed(Kind::Control, {}, "[1]") + packed(Kind::Error, kClient, R"({"message":"m","code":"C"})") +
                       packed(Kind::End, kClient, "", true);
  for (std::size_t chunk : {stream.size(), std::size_t{1}, std::size_t{7}, std::size_t{13}}) {
    CAPTURE(chunk);
    auto messages = decode(stream, chunk);
    REQUIRE(messages.size() == 7);
    CHECK(messages[0].kind == Kind::Connection);
    CHECK(messages[0].meta.service == "https");
    CHECK(messages[1].kind == Kind::Data);
    CHECK(messages[1].body == "hello");
    CHECK(messages[1].meta.id() == "IPv4,127.0.1.1,4321");
    CHECK(messages[2].kind == Kind::Pause);
    CHECK(messages[2].body == "1024");
    CHECK(messages[4].kind == Kind::Control);
    CHECK(messages[5].kind == Kind::Error);
    CHECK(messages[6].kind == Kind::End);
    CHECK(messages[6].body == " ");
  }
}

TEST_CASE("the Go encoder's trailing empty field and newline are accepted") {
  auto messages = decode(frame("IPv4,192.168.1.101,6743,13,http,80,ex1.telebit.io,\n") + "Hello, World!", 5);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].body == "Hello, World!");
  CHECK(messages[0].meta.name == "ex1.telebit.io");
}

TEST_CASE("the strict answers to what the reference reads sloppily") {
  struct Case { std::string stream; const char* error; };
  for (const auto& c : {Case{"\xFD" + frame("IPv4,127.0.1.1,4321,0,end,443,a").substr(1), "version byte 253"},
                        Case{frame("IPv4,127.0.1.1,4321,3abc,https,443,a") + "abc", "datalen '3abc'"},
                        Case{frame("IPv4,127.0.1.1,4321,abc,https,443,a"), "datalen 'abc'"},
                        Case{frame("IPv4,127.0.1.1,4321,-2,https,443,a"), "datalen '-2'"},
                        Case{frame("IPv4,127.0.1.1,4321,99999999999,https,443,a"), "datalen"},
                        Case{std::string("\xFE\x00", 2), "an empty header"},
                        Case{frame("IPv4,127.0.1.1,4321,1,https,443,a,b") + "x", "7 fields, not 8"},
                        Case{frame("IPv4,127.0.1.1,4321,0,connection,443,a"), "8 fields, not 7"},
                        Case{frame("IPv4,127.0.1.1,4321,0,https"), "7 fields, not 5"},
                        Case{frame("IPv4,127.0.1.1,4321,0"), "at least 5"},
                        Case{frame("IPv4,not-an-ip,4321,0,https,443,a"), "not an IPv4 or IPv6 address"},
                        Case{frame("IPv5,127.0.1.1,4321,0,https,443,a"), "not an IPv4 or IPv6 address"},
                        Case{frame("IPv4,127.0.1.1,65536,0,https,443,a"), "port"},
                        Case{frame("x,,,0,control"), "empty family"},
                        Case{frame("IPv4,127.0.1.1,4321,0,https,443,a\x01"), "control or non-ASCII"}}) {
    CAPTURE(c.stream);
    std::string error;
    auto messages = decode(c.stream, 1, &error);
    CHECK(messages.empty());
    CHECK(error.find(c.error) != std::string::npos);
  }
}

TEST_CASE("a body larger than the limit is refused before it is read") {
  Decoder decoder(16);
  std::string stream = frame("IPv4,127.0.1.1,4321,17,https,443,a");
  CHECK_FALSE(decoder.feed(stream, [](Message&&) {}));
  CHECK(decoder.error().find("up to 16") != std::string::npos);
}

TEST_CASE("pack_header is pack less its body, so that a body can follow from a pipe") {
  std::string error;
  auto header = pack_header(Kind::Data, kClient, 5, error);
  REQUIRE(header);
  CHECK(*header + "hello" == packed(Kind::Data, kClient, "hello"));
}

TEST_CASE("a data body may bypass the decoder in pieces, and the messages after it decode as usual") {
  std::string body(100, 'b');
  std::string stream = packed(Kind::Data, kClient, body) + packed(Kind::End, kClient, "");
  Decoder decoder;
  std::vector<Message> out;
  auto collect = [&](Message&& m) { out.push_back(std::move(m)); };
  REQUIRE(decoder.feed(std::string_view(stream).substr(0, stream.size() - body.size() - 40), collect));
  const Message* in_progress = decoder.data_body_in_progress();
  REQUIRE(in_progress);
  CHECK(in_progress->meta.name == "example.com");
  std::size_t header_end = stream.size() - packed(Kind::End, kClient, "").size() - body.size();
  std::size_t fed_of_body = stream.size() - body.size() - 40 - header_end;
  CHECK(decoder.body_left() == body.size() - fed_of_body);
  CHECK(decoder.take_partial_body() == body.substr(0, fed_of_body));  // delivered first
  decoder.skip_body(30);  // then 30 bytes spliced past the decoder
  CHECK(decoder.body_left() == body.size() - fed_of_body - 30);
  decoder.skip_body(decoder.body_left());  // the rest
  CHECK(decoder.data_body_in_progress() == nullptr);
  CHECK(decoder.idle());
  REQUIRE(decoder.feed(std::string_view(stream).substr(header_end + body.size()), collect));
  REQUIRE(out.size() == 1);  // the data message was delivered in pieces: only `end` is given
  CHECK(out[0].kind == Kind::End);
}

TEST_CASE("only a data message's body is offered to bypass the decoder") {
  Decoder decoder;
  std::string control = packed(Kind::Control, {}, "[]");
  REQUIRE(decoder.feed(std::string_view(control).substr(0, control.size() - 1), [](Message&&) {}));
  CHECK(decoder.data_body_in_progress() == nullptr);
}

TEST_CASE("header_left counts to a header's end exactly, and guesses the next header from the last") {
  std::string body(100, 'b');
  std::string data = packed(Kind::Data, kClient, body);
  std::size_t header = data.size() - body.size() - 2;
  Decoder decoder;
  auto ignore = [](Message&&) {};
  CHECK(decoder.header_left() == 2 + kMaxHeader);  // nothing read yet: the longest a header may be
  REQUIRE(decoder.feed(std::string_view(data).substr(0, 1), ignore));
  CHECK(decoder.header_left() == 1 + kMaxHeader);  // the version byte only
  REQUIRE(decoder.feed(std::string_view(data).substr(1, 11), ignore));
  CHECK(decoder.header_left() == header - 10);  // within the header: exact
  REQUIRE(decoder.feed(std::string_view(data).substr(12, header - 10), ignore));
  CHECK(decoder.header_left() == 0);  // the body comes next
  REQUIRE(decoder.feed(std::string_view(data).substr(2 + header), ignore));
  CHECK(decoder.header_left() == 2 + header);  // the next header guessed as long as this one
}
