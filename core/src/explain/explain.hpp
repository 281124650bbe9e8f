// Explain: what passthru would decide for one captured first flight, and why, for the operator
// whose client "goes to the wrong backend". It runs a listener's protocols over the bytes as
// Detection does and writes, in order, each protocol's verdict with the bytes it needed and the
// facts it found, the rule that decides with its file:line, and why earlier rules did not apply;
// with a split size it also proves the decision is the same however TCP cuts the bytes. It reads
// no socket and connects nowhere.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "../config/config.hpp"
#include "passthru/sdk/bytes.hpp"

namespace passthru::core {

struct ExplainRequest {
  std::string listener;    ///< a listener's key as written ("0.0.0.0:443"); empty: the only one
  IpAddress client;        ///< who sent the bytes (from / not_from, PROXY FROM)
  std::size_t split = 0;   ///< 0: no split check; else segments of this many bytes
};

/// Appends the explanation to `out`. Returns 0, or 1 if the decision depends on the split;
/// on a request that names no listener of `config`, returns 2 with the reason in `out`.
int explain(const Config& config, const ExplainRequest& request, passthru::sdk::ByteSpan capture, std::string& out);

/// The bytes of a hex dump: pairs of hex digits; whitespace, "0x", ':' and anything from '#' to
/// the end of a line are ignored. nullopt if a character is none of those.
std::optional<std::string> parse_hex_dump(std::string_view text);

}  // namespace passthru::core
