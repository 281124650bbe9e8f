// Parses the first TLS ClientHello of a connection into facts: SNI and the offered ALPN list.
// It reads the record layer (RFC 8446 §5.1) and reassembles a hello split over several
// records or TCP segments. It also recognises the SSLv2-compatible hello (RFC 5246 App. E.2),
// which has no extensions. It does not match rules (rules.hpp does) and never reads outside
// the bytes it is given, whatever their lengths claim.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "passthru/sdk/bytes.hpp"

namespace passthru::tls {

enum class HelloStatus : std::uint8_t {
  NeedMore,   ///< Valid so far; `need_bytes` are worth waiting for.
  Complete,   ///< A whole, well-formed ClientHello.
  NotTls,     ///< The first bytes cannot start a TLS handshake.
  Malformed,  ///< Starts as TLS, then breaks the grammar.
  TooLarge,   ///< The hello cannot fit in `capacity` bytes.
  Truncated,  ///< EOF before the hello was complete.
};

struct ClientHello {
  bool sslv2 = false;  ///< The SSLv2-compatible form: no SNI, no ALPN.
  std::array<char, 255> sni_storage{};
  std::size_t sni_length = 0;  ///< 0: no server_name extension.
  /// The ALPN ProtocolNameList body (RFC 7301 §3.1), already validated. It views either the
  /// input or this thread's reassembly buffer, so it is valid only until the next parse on
  /// this thread. Empty: no ALPN extension.
  passthru::sdk::ByteSpan alpn;

  [[nodiscard]] std::string_view sni() const noexcept { return {sni_storage.data(), sni_length}; }

  /// Calls f(std::string_view) for each offered protocol, in the client's order, until f
  /// returns true. Returns whether one did.
  template <typename F>
  bool any_alpn(F&& f) const {
    passthru::sdk::ByteReader list(alpn);
    passthru::sdk::ByteReader one(passthru::sdk::ByteSpan{});
    while (!list.empty() && list.read_prefixed_u8(one)) {
      passthru::sdk::ByteSpan name;
      one.read_bytes(one.remaining(), name);
      if (f(passthru::sdk::as_chars(name))) return true;
    }
    return false;
  }
};

struct HelloParse {
  HelloStatus status = HelloStatus::NeedMore;
  std::size_t need_bytes = 0;  ///< NeedMore only: total bytes to wait for.
  ClientHello hello;           ///< Complete only.
};

/// Parses what a client has sent so far. `eof`: nothing more will come. `capacity`: the most
/// bytes that will ever be buffered; a hello that cannot fit is TooLarge.
HelloParse parse_client_hello(passthru::sdk::ByteSpan bytes, bool eof,
                              std::size_t capacity) noexcept;

}  // namespace passthru::tls
