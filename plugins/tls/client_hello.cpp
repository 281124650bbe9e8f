#include "client_hello.hpp"

#include <algorithm>
#include <new>
#include <vector>

#include "../common/name_table.hpp"

namespace passthru::tls {

using passthru::sdk::ByteReader;
using passthru::sdk::ByteSpan;

namespace {

constexpr std::uint8_t kContentHandshake = 22;  // RFC 8446 §5.1 ContentType.handshake
constexpr std::uint8_t kClientHello = 1;        // RFC 8446 §4 HandshakeType.client_hello
constexpr std::size_t kRecordHeader = 5;        // type, legacy_record_version, length
constexpr std::size_t kMaxRecordPayload = 16384;  // 2^14, RFC 8446 §5.1
constexpr std::size_t kHandshakeHeader = 4;       // msg_type, uint24 length
// legacy_version + random + empty session id + one suite + one compression method.
constexpr std::size_t kMinHelloBody = 2 + 32 + 1 + 4 + 2;
constexpr std::uint16_t kExtServerName = 0;  // RFC 6066 §3
constexpr std::uint16_t kExtAlpn = 16;       // RFC 7301 §3.1

HelloParse with_status(HelloStatus status) noexcept {
  HelloParse p;
  p.status = status;
  return p;
}

/// NeedMore(total), unless no more will come or it can never fit.
HelloParse need(std::size_t total, bool eof, std::size_t capacity) noexcept {
  if (total > capacity) return with_status(HelloStatus::TooLarge);
  if (eof) return with_status(HelloStatus::Truncated);
  HelloParse p;
  p.need_bytes = total;
  return p;
}

// RFC 6066 §3: ServerNameList of {name_type, HostName}; one host_name at most.
bool parse_server_name(ByteReader ext, ClientHello& hello) noexcept {
  ByteReader list(ByteSpan{});
  if (!ext.read_prefixed_u16(list) || !ext.empty() || list.empty()) return false;
  while (!list.empty()) {
    std::uint8_t type = 0;
    ByteReader name(ByteSpan{});
    if (!list.read_u8(type) || !list.read_prefixed_u16(name)) return false;
    if (type != 0) continue;  // other name types are skipped
    if (hello.sni_length != 0) return false;
    ByteSpan raw;
    name.read_bytes(name.remaining(), raw);
    if (!passthru::common::normalize_host_name(passthru::sdk::as_chars(raw),
                                               hello.sni_storage.data(), hello.sni_length))
      return false;
  }
  return true;
}

// RFC 7301 §3.1: ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>.
bool parse_alpn(ByteReader ext, ClientHello& hello) noexcept {
  ByteReader list(ByteSpan{});
  if (!ext.read_prefixed_u16(list) || !ext.empty() || list.empty()) return false;
  ByteSpan body;
  ByteReader check = list;
  list.read_bytes(list.remaining(), body);
  while (!check.empty()) {
    ByteReader name(ByteSpan{});
    if (!check.read_prefixed_u8(name) || name.empty()) return false;
  }
  hello.alpn = body;
  return true;
}

// RFC 8446 §4.1.2 ClientHello body (also fits TLS 1.0-1.2 hellos, whose extensions are optional).
bool parse_hello_body(ByteSpan body, ClientHello& hello) noexcept {
  ByteReader r(body);
  std::uint8_t major = 0;
  std::uint8_t minor = 0;
  ByteReader session(ByteSpan{}), suites(ByteSpan{}), compression(ByteSpan{});
  if (!r.read_u8(major) || !r.read_u8(minor) || major != 3 || !r.skip(32)) return false;
  if (!r.read_prefixed_u8(session) || session.remaining() > 32) return false;
  if (!r.read_prefixed_u16(suites) || suites.remaining() < 2 || suites.remaining() % 2) return false;
  if (!r.read_prefixed_u8(compression) || compression.empty()) return false;
  if (r.empty()) return true;  // no extensions block: allowed before TLS 1.3
  ByteReader extensions(ByteSpan{});
  if (!r.read_prefixed_u16(extensions) || !r.empty()) return false;
  bool seen_sni = false;
  bool seen_alpn = false;
  while (!extensions.empty()) {
    std::uint16_t type = 0;
    ByteReader data(ByteSpan{});
    if (!extensions.read_u16(type) || !extensions.read_prefixed_u16(data)) return false;
    if (type == kExtServerName) {
      if (seen_sni || !parse_server_name(data, hello)) return false;
      seen_sni = true;
    } else if (type == kExtAlpn) {
      if (seen_alpn || !parse_alpn(data, hello)) return false;
      seen_alpn = true;
    }
  }
  return true;
}

// RFC 5246 Appendix E.2: 2-byte length with the top bit set, msg_type 1, version 3.x,
// cipher_spec_length, session_id_length, challenge_length, then the three fields.
HelloParse parse_sslv2_hello(ByteSpan bytes, bool eof, std::size_t capacity) noexcept {
  // The type and version bytes are judged before the length, so that a verdict given on a
  // prefix (say TooLarge) is never contradicted by the next byte (NotTls).
  if (bytes.size() >= 3 && bytes[2] != kClientHello) return with_status(HelloStatus::NotTls);
  if (bytes.size() >= 4 && bytes[3] != 3) return with_status(HelloStatus::NotTls);
  if (bytes.size() < 4) return need(4, eof, capacity);
  std::size_t length = static_cast<std::size_t>(bytes[0] & 0x7F) << 8 | bytes[1];
  if (length < 9) return with_status(HelloStatus::NotTls);
  if (bytes.size() < 2 + length) return need(2 + length, eof, capacity);
  ByteReader r(bytes.subspan(2, length));
  std::uint8_t type = 0, major = 0, minor = 0;
  std::uint16_t specs = 0, session = 0, challenge = 0;
  r.read_u8(type);
  r.read_u8(major);
  r.read_u8(minor);
  r.read_u16(specs);
  r.read_u16(session);
  r.read_u16(challenge);
  bool valid = r.ok() && minor <= 3 && specs != 0 && specs % 3 == 0 &&
               (session == 0 || session == 16) && challenge >= 16 && challenge <= 32 &&
               r.remaining() == std::size_t{specs} + session + challenge;
  if (!valid) return with_status(HelloStatus::Malformed);
  HelloParse p = with_status(HelloStatus::Complete);
  p.hello.sslv2 = true;
  return p;
}

/// The handshake bytes of a hello spread over several records, copied contiguously. One
/// buffer per thread, grown once to the largest hello seen, so parsing allocates rarely.
std::vector<std::uint8_t>& reassembly_buffer() {
  thread_local std::vector<std::uint8_t> buffer;
  return buffer;
}

}  // namespace

HelloParse parse_client_hello(ByteSpan bytes, bool eof, std::size_t capacity) noexcept {
  if (bytes.empty()) return need(1, eof, capacity);
  if (bytes[0] & 0x80) return parse_sslv2_hello(bytes, eof, capacity);
  if (bytes[0] != kContentHandshake) return with_status(HelloStatus::NotTls);

  // Walk the records, collecting handshake bytes until the whole ClientHello is there.
  // The first record decides "is this TLS at all"; a later bad record is Malformed.
  std::size_t offset = 0;       // start of the current record
  std::size_t collected = 0;    // handshake bytes seen so far (over all records)
  std::size_t hello_total = 0;  // 4 + handshake length, once known
  ByteSpan single;              // the hello, if one record holds all of it
  std::vector<std::uint8_t>* joined = nullptr;
  std::array<std::uint8_t, kHandshakeHeader> header{};

  for (;;) {
    bool first = offset == 0;
    HelloStatus bad = first ? HelloStatus::NotTls : HelloStatus::Malformed;
    std::size_t have = bytes.size() - offset;
    if (have >= 1 && bytes[offset] != kContentHandshake) return with_status(bad);
    if (have >= 2 && bytes[offset + 1] != 3) return with_status(bad);
    if (have >= 3 && bytes[offset + 2] > 4) return with_status(bad);
    if (have < kRecordHeader) return need(offset + kRecordHeader, eof, capacity);
    std::size_t length = std::size_t{bytes[offset + 3]} << 8 | bytes[offset + 4];
    if (length == 0 || length > kMaxRecordPayload) return with_status(bad);

    std::size_t payload = offset + kRecordHeader;
    std::size_t available = std::min(length, bytes.size() - payload);
    std::size_t wanted = hello_total ? hello_total - collected : kHandshakeHeader - collected;
    std::size_t take = std::min(available, hello_total ? wanted : available);
    // Read the handshake header, which may itself straddle records.
    for (std::size_t i = 0; i < take && collected + i < kHandshakeHeader; ++i)
      header[collected + i] = bytes[payload + i];
    std::size_t before = collected;
    collected += take;
    if (!hello_total && collected >= kHandshakeHeader) {
      if (header[0] != kClientHello) return with_status(HelloStatus::Malformed);
      std::size_t body = std::size_t{header[1]} << 16 | std::size_t{header[2]} << 8 | header[3];
      if (body < kMinHelloBody) return with_status(HelloStatus::Malformed);
      hello_total = kHandshakeHeader + body;
      // Every 16 KiB of hello costs at least one more record header.
      std::size_t min_bytes = hello_total + kRecordHeader * ((hello_total + kMaxRecordPayload - 1) / kMaxRecordPayload);
      if (min_bytes > capacity) return with_status(HelloStatus::TooLarge);
      if (collected > hello_total) collected = hello_total;
      take = collected - before;
    }
    if (first && hello_total && take >= hello_total) {
      single = bytes.subspan(payload, hello_total);
    } else if (take) {
      if (!joined) {
        joined = &reassembly_buffer();
        joined->clear();
      }
      try {
        joined->insert(joined->end(), bytes.begin() + static_cast<std::ptrdiff_t>(payload),
                       bytes.begin() + static_cast<std::ptrdiff_t>(payload + take));
      } catch (const std::bad_alloc&) {
        return with_status(HelloStatus::TooLarge);
      }
    }
    if (hello_total && collected == hello_total) break;
    if (available < length) {
      // The record is still arriving: wait for the hello bytes it may still hold.
      std::size_t still = hello_total ? hello_total - collected : kHandshakeHeader - collected;
      return need(payload + available + std::min(length - available, still), eof, capacity);
    }
    offset = payload + length;
  }

  ByteSpan hello_bytes = single.empty() ? ByteSpan(*joined) : single;
  HelloParse p = with_status(HelloStatus::Complete);
  if (!parse_hello_body(hello_bytes.subspan(kHandshakeHeader), p.hello))
    return with_status(HelloStatus::Malformed);
  return p;
}

}  // namespace passthru::tls
