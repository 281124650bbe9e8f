// Facts: what a detector saw in a connection's first bytes (its SNI, ALPN list, Host…), handed
// to the host with the Verdict. The host writes them into the connection's log line and reads a
// few well-known ones by meaning: a PROXY v2 header it sends to a backend carries the name the
// client asked for and the ALPN protocol it offered first. Facts are not a general map: at most
// kMaxFacts of them, in a fixed inline buffer, so that detecting allocates nothing.
//
// The contract between a plugin and the host:
//  - A key is 1 to 32 bytes of lower-case ASCII letters, digits, '_', '-' and '.', given as a
//    string literal (only its pointer is kept). The keys below mean the same in every plugin;
//    a plugin may add keys of its own.
//  - A value is bytes with their length. It may hold any byte but NUL: an add whose key is not
//    a key or whose value holds a NUL stores nothing and returns false (NUL ends a C string,
//    and a value that is cut short there would say something the client never sent).
//  - A fact is one of three kinds (FactKind):
//      Text       for people. The host writes it in the log, quoted and escaped where it needs
//                 to be, so a plugin need not clean it. One too long to fit is cut short and
//                 ends in "...".
//      Wire       bytes exactly as the client sent them, for the host to pass on (a PROXY v2
//                 TLV). Never logged, never cut: one that does not fit whole is refused.
//      Ambiguous  the bytes said several things about this key (two different Host fields):
//                 there is no value, nothing may route by it or pass it on, and the log
//                 shows it as `key=(ambiguous)`.
#pragma once

#include "passthru/sdk/requires_cxx20.hpp"  // first: one clear line for an older -std

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace passthru::sdk {

/// The keys passthru's own plugins give. The host reads kSni, kHost and kAlpnFirst by meaning;
/// the rest are for the log. A plugin that sees one of these things uses its key.
namespace fact_key {
/// Text: the TLS server_name (RFC 6066 §3): its host name lower-cased, a trailing dot removed.
inline constexpr const char* kSni = "sni";
/// Text: the protocols a TLS ClientHello offers (RFC 7301 §3.1), comma-separated, for people.
inline constexpr const char* kAlpn = "alpn";
/// Wire: the first protocol a TLS ClientHello offers, exactly as offered.
inline constexpr const char* kAlpnFirst = "alpn_first";
/// Text: "sslv2" for the SSLv2-compatible ClientHello (RFC 5246 Appendix E.2).
inline constexpr const char* kHello = "hello";
/// Text: the host an HTTP request is for (RFC 9112 §3.2), normalised, without its port; or
/// Ambiguous when the request names more than one.
inline constexpr const char* kHost = "host";
/// Text: the HTTP request method.
inline constexpr const char* kMethod = "method";
/// Text: "h2c" for the HTTP/2 prior-knowledge preface.
inline constexpr const char* kHttp = "http";
/// Text: the form of a PROXY protocol header: v1, v1-unknown, v2, v2-local, v2-unspec.
inline constexpr const char* kProxy = "proxy";
/// Text: the AUTHORITY, ALPN and UNIQUE_ID (as hex) TLVs of a PROXY v2 header.
inline constexpr const char* kProxyAuthority = "pp_authority";
inline constexpr const char* kProxyAlpn = "pp_alpn";
inline constexpr const char* kProxyUniqueId = "pp_unique_id";
/// Text: the protocol and software versions of an SSH identification string (RFC 4253 §4.2).
inline constexpr const char* kSshVersion = "ssh_version";
inline constexpr const char* kSshSoftware = "ssh_software";
/// Text: the kind of an M-PROXY stream's first message, and its header's name, service and port.
inline constexpr const char* kMproxy = "mproxy";
inline constexpr const char* kMproxyName = "name";
inline constexpr const char* kMproxyService = "service";
inline constexpr const char* kMproxyServicePort = "serviceport";
}  // namespace fact_key

enum class FactKind : std::uint8_t {
  Text,       ///< for people: logged, escaped by the host
  Wire,       ///< exact bytes for the host to pass on; never logged
  Ambiguous,  ///< no value: the bytes said several things
};

/// One fact as read back: views into the Facts (or the host's copy) it came from.
struct Fact {
  std::string_view key;
  std::string_view value;  ///< empty for an Ambiguous fact
  FactKind kind = FactKind::Text;
};

class Facts {
 public:
  static constexpr std::size_t kMaxFacts = 4;
  static constexpr std::size_t kCapacity = 768;  ///< bytes of values, all facts together
  static constexpr std::size_t kMaxKeyLength = 32;

  /// Whether `key` is a key: 1 to kMaxKeyLength bytes of a-z, 0-9, '_', '-' and '.'.
  static bool is_key(const char* key) noexcept {
    if (key == nullptr) return false;
    std::size_t n = 0;
    for (; key[n] != '\0'; ++n) {
      char c = key[n];
      bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
      if (!allowed || n == kMaxKeyLength) return false;
    }
    return n > 0;
  }

  /// A Text fact, cut short with "..." if it does not fit. False, storing nothing, if `key` is
  /// not a key, `value` holds a NUL, or kMaxFacts facts are already there.
  bool add(const char* key, std::string_view value) noexcept {
    if (!can_add(key, value)) return false;
    std::size_t room = kCapacity - used_;
    std::size_t n = value.size();
    bool cut = n > room;
    if (cut) n = room >= 3 ? room - 3 : 0;
    std::memcpy(text_.data() + used_, value.data(), n);
    if (cut && room >= 3) {
      std::memcpy(text_.data() + used_ + n, "...", 3);
      n += 3;
    }
    store(key, n, FactKind::Text);
    return true;
  }

  /// A Wire fact: `bytes` exactly. False, storing nothing, as for add, and if it does not fit.
  bool add_wire(const char* key, std::string_view bytes) noexcept {
    if (!can_add(key, bytes) || bytes.size() > kCapacity - used_) return false;
    std::memcpy(text_.data() + used_, bytes.data(), bytes.size());
    store(key, bytes.size(), FactKind::Wire);
    return true;
  }

  /// An Ambiguous fact: `key` with no value. False, storing nothing, as for add.
  bool add_ambiguous(const char* key) noexcept {
    if (!can_add(key, {})) return false;
    store(key, 0, FactKind::Ambiguous);
    return true;
  }

  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] const char* key(std::size_t i) const noexcept { return entries_[i].key; }
  [[nodiscard]] std::string_view value(std::size_t i) const noexcept {
    return {text_.data() + entries_[i].offset, entries_[i].length};
  }
  [[nodiscard]] FactKind kind(std::size_t i) const noexcept { return entries_[i].kind; }
  [[nodiscard]] Fact operator[](std::size_t i) const noexcept { return {key(i), value(i), kind(i)}; }

  /// The value of the first fact under `key` (empty for an Ambiguous one), or an empty view.
  [[nodiscard]] std::string_view find(std::string_view key_name) const noexcept {
    for (std::size_t i = 0; i < count_; ++i)
      if (key_name == entries_[i].key) return value(i);
    return {};
  }

 private:
  struct Entry {
    const char* key = nullptr;
    std::uint16_t offset = 0;
    std::uint16_t length = 0;
    FactKind kind = FactKind::Text;
  };

  bool can_add(const char* key, std::string_view value) const noexcept {
    return count_ < kMaxFacts && is_key(key) && value.find('\0') == std::string_view::npos;
  }
  void store(const char* key, std::size_t length, FactKind kind) noexcept {
    entries_[count_++] = Entry{key, static_cast<std::uint16_t>(used_), static_cast<std::uint16_t>(length), kind};
    used_ += length;
  }

  std::array<Entry, kMaxFacts> entries_{};
  std::array<char, kCapacity> text_{};
  std::size_t count_ = 0;
  std::size_t used_ = 0;
};

}  // namespace passthru::sdk
