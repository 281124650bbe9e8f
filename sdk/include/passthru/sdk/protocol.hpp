// Protocol: the interface every detector plugin implements. This is the whole contract.
//
//  - The host creates one instance per server table (`[servers."ADDR".NAME]`), calls
//    apply_rules once with that table's rule keys, and from then on shares the instance,
//    read-only, between every connection and thread of that server.
//  - identify() is called on the bytes a connection has sent so far. It must be pure and
//    stable: the answer depends only on those bytes (and eof), and once it is NoMatch or
//    Match, feeding more bytes never changes it. So the decision cannot depend on how TCP
//    split the stream. NeedMore names the total size worth waiting for, so a client that
//    trickles one byte at a time does not make the host re-parse on every byte.
//  - identify() never throws, never blocks, and never reads outside the view. Plugins never
//    touch sockets: the host owns the connection.
//
// What authors trip on (the probe harness, sdk/testing/probe_harness.hpp, and
// `passthru --check-plugin` check each of these, byte by byte):
//  - The view never holds more than `capacity` bytes (a listener's max_sniff_bytes): prefixes
//    beyond it are never given. A protocol still undecided when the buffer is full counts as no
//    match (the server CATCHALL's `buffer_full`).
//  - NeedMore is not an answer at EOF (`eof` true): the client sends nothing more, so answer
//    NoMatch (Truncated, or what the bytes already show), or Match if they are enough.
//  - No answer on a short read: a prefix that can still become this protocol is NeedMore, never
//    NoMatch. "No match on fewer than 4 bytes, match on more" is the classic unstable plugin.
//  - TooLarge, stably: decide it from the size the message needs (a length field, or a header
//    that has no end within `capacity`), compared with `capacity`, which is the same on every
//    call, never from whether the buffer happens to be full now. The answer on a prefix then
//    stays the answer on every longer one.
//  - Facts (facts.hpp) hold client bytes. A Text value may hold any byte but NUL: the host
//    quotes and escapes control bytes, quotes, spaces and non-ASCII when it logs one, so no value
//    can split a log line or forge a field; an add with a NUL stores nothing. Keys are short
//    lower-case names from the plugin's own code, never from the bytes.
//  - Diagnostics from apply_rules() are printed as `file:line:col: error: NAME: message`: the
//    host adds the file, the position and the protocol's table name, so a message says only
//    what is wrong with the key and what to write instead.
//
// Rule keys are plain strings ("SNI example.com"); the host parses the action part of each
// rule itself, so a plugin only says which rule (by index) applies. A protocol that wraps
// others (the PROXY protocol) also says how many bytes its header takes and which addresses it
// carries; an UNWRAP rule then strips the header and detection goes on after it.
//
// select_rule() is optional. A protocol whose facts the host can learn without the bytes that
// carry them (the host reads each stream of an M-PROXY tunnel itself, header and all) may choose
// a rule from those facts, under the keys its own identify() gives them: the rule identify()
// would choose for bytes with those facts. The same rules hold as for identify(): const,
// noexcept, pure, shared by every thread. The default answers nullopt: "I choose only from bytes".
#pragma once

#include "passthru/sdk/requires_cxx20.hpp"  // first: one clear line for an older -std

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "passthru/sdk/bytes.hpp"
#include "passthru/sdk/diagnostics.hpp"
#include "passthru/sdk/verdict.hpp"

namespace passthru::sdk {

/// One rule key of a protocol table, with where it stands in the config file.
/// The rule's index in the list given to apply_rules is what a Match names.
struct RuleKey {
  std::string text;  ///< e.g. "SNI *.example.org" or "CATCHALL"
  SourcePosition where;
};

/// What identify() sees: the connection's first bytes, whether the client has finished
/// sending (EOF), how many bytes the host will buffer at most before giving up, and who sent
/// them: the TCP peer, for rules on the sender (the PROXY protocol's FROM). `peer` is null when
/// unknown; an IPv4 peer on an IPv6 socket is given as AF_INET.
struct ConnView {
  ByteSpan bytes;
  bool eof = false;
  std::size_t capacity = 0;
  const sockaddr* peer = nullptr;
};

class Protocol {
 public:
  virtual ~Protocol() = default;

  /// The table name this protocol answers to in the config, e.g. "TLS".
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;

  /// Takes the rule keys of one table. Reports every key it refuses through `diagnostics`,
  /// with the key's position and what to write instead. May throw; the export shim turns an
  /// exception into a diagnostic.
  virtual void apply_rules(std::span<const RuleKey> rules, Diagnostics& diagnostics) = 0;

  /// The verdict on `view` (see the contract at the top of this file).
  [[nodiscard]] virtual Verdict identify(const ConnView& view) const noexcept = 0;

  /// The rule `facts` select (kNoRule if none applies), or nullopt if this protocol chooses
  /// only from bytes (see the contract at the top of this file).
  [[nodiscard]] virtual std::optional<std::uint32_t> select_rule([[maybe_unused]] const Facts& facts) const noexcept {
    return std::nullopt;
  }
};

}  // namespace passthru::sdk
