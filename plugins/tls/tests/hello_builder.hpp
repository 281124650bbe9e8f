// Builds TLS ClientHellos for tests: a TLS 1.2-style hello (RFC 8446 §4.1.2 layout) with the
// server_name, ALPN list and padding asked for, cut into records of the sizes asked for.
// Also re-cuts captured hellos into other record splits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace passthru::tls::testing {

using Bytes = std::vector<std::uint8_t>;

inline void put_u16(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

struct HelloSpec {
  std::vector<std::string> server_names;  // each becomes a host_name entry; empty: no extension
  std::vector<std::string> alpn;          // empty: no extension
  std::size_t padding = 0;                // an extension of this many zero bytes (RFC 7685)
};

/// The handshake message (type, uint24 length, body), without record headers.
inline Bytes build_handshake(const HelloSpec& spec) {
  Bytes body;
  put_u16(body, 0x0303);                // legacy_version
  body.insert(body.end(), 32, 0x42);    // random
  body.push_back(0);                    // legacy_session_id: empty
  put_u16(body, 2);                     // cipher_suites: one
  put_u16(body, 0x1301);
  body.push_back(1);                    // compression methods: null
  body.push_back(0);
  Bytes extensions;
  if (!spec.server_names.empty()) {  // RFC 6066 §3
    Bytes list;
    for (const auto& name : spec.server_names) {
      list.push_back(0);  // host_name
      put_u16(list, name.size());
      list.insert(list.end(), name.begin(), name.end());
    }
    put_u16(extensions, 0);
    put_u16(extensions, list.size() + 2);
    put_u16(extensions, list.size());
    extensions.insert(extensions.end(), list.begin(), list.end());
  }
  if (!spec.alpn.empty()) {  // RFC 7301 §3.1
    Bytes list;
    for (const auto& name : spec.alpn) {
      list.push_back(static_cast<std::uint8_t>(name.size()));
      list.insert(list.end(), name.begin(), name.end());
    }
    put_u16(extensions, 16);
    put_u16(extensions, list.size() + 2);
    put_u16(extensions, list.size());
    extensions.insert(extensions.end(), list.begin(), list.end());
  }
  if (spec.padding) {
    put_u16(extensions, 21);
    put_u16(extensions, spec.padding);
    extensions.insert(extensions.end(), spec.padding, 0);
  }
  put_u16(body, extensions.size());
  body.insert(body.end(), extensions.begin(), extensions.end());
  Bytes message{1};  // client_hello
  message.push_back(static_cast<std::uint8_t>(body.size() >> 16));
  message.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  message.push_back(static_cast<std::uint8_t>(body.size()));
  message.insert(message.end(), body.begin(), body.end());
  return message;
}

/// Wraps handshake bytes in handshake records of at most `fragment` payload bytes each.
inline Bytes in_records(const Bytes& handshake, std::size_t fragment = 16384) {
  Bytes out;
  for (std::size_t at = 0; at < handshake.size(); at += fragment) {
    std::size_t n = std::min(fragment, handshake.size() - at);
    out.push_back(22);  // handshake
    put_u16(out, 0x0301);
    put_u16(out, n);
    out.insert(out.end(), handshake.begin() + at, handshake.begin() + at + n);
  }
  return out;
}

/// Two records, the first holding `first` handshake bytes.
inline Bytes split_in_two_records(const Bytes& handshake, std::size_t first) {
  Bytes out = in_records(Bytes(handshake.begin(), handshake.begin() + first), first);
  Bytes rest = in_records(Bytes(handshake.begin() + first, handshake.end()));
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

/// The handshake bytes of a captured flight: every record's payload, headers removed.
inline Bytes strip_records(const Bytes& records) {
  Bytes out;
  for (std::size_t at = 0; at + 5 <= records.size();) {
    std::size_t n = std::size_t{records[at + 3]} << 8 | records[at + 4];
    out.insert(out.end(), records.begin() + at + 5, records.begin() + at + 5 + n);
    at += 5 + n;
  }
  return out;
}

inline Bytes build_hello(const HelloSpec& spec) { return in_records(build_handshake(spec)); }

}  // namespace passthru::tls::testing
