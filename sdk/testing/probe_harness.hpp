// The probe harness: checks the Protocol contract (protocol.hpp) on any input, for every
// plugin's tests and fuzz target, and for `passthru --check-plugin`. It feeds every prefix of
// the input, as a client sending one byte at a time would, and checks that verdicts are stable
// once given, that NeedMore always asks for more than it has and is never the answer at EOF,
// and that the host's way of polling (only once the asked-for bytes are there) reaches the same
// verdict as one look at the whole input. As the host, it never gives more than `capacity`
// bytes: an input longer than that is cut there, and its EOF is not seen.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "passthru/sdk/protocol.hpp"

namespace passthru::testing {

struct ProbeReport {
  passthru::sdk::Verdict verdict;  ///< on the whole input (with eof if asked)
  std::string violation;           ///< empty when the contract held
};

inline bool same_decision(const passthru::sdk::Verdict& a, const passthru::sdk::Verdict& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == passthru::sdk::VerdictKind::Match) return a.rule == b.rule;
  if (a.kind == passthru::sdk::VerdictKind::NoMatch) return a.reason == b.reason;
  return true;
}

/// Runs the checks; `eof` says whether the client closes after the input.
inline ProbeReport probe_every_prefix(const passthru::sdk::Protocol& protocol,
                                      passthru::sdk::ByteSpan input, std::size_t capacity,
                                      bool eof = false) {
  using passthru::sdk::VerdictKind;
  ProbeReport report;
  if (input.size() > capacity) {
    input = input.first(capacity);
    eof = false;
  }
  bool settled = false;
  passthru::sdk::Verdict first_settled;
  std::size_t wanted = 0;
  passthru::sdk::Verdict polled;  // what the host would hold, polling only when asked
  bool polled_settled = false;
  for (std::size_t n = 0; n <= input.size(); ++n) {
    bool at_end = eof && n == input.size();
    auto v = protocol.identify({input.first(n), at_end, capacity});
    if (v.kind == VerdictKind::NeedMore && !at_end && v.need_bytes <= n) {
      report.violation = "NeedMore(" + std::to_string(v.need_bytes) + ") at " + std::to_string(n) +
                         " bytes does not ask for more bytes";
      return report;
    }
    if (at_end && v.kind == VerdictKind::NeedMore) {
      report.violation = "NeedMore at EOF (" + std::to_string(n) +
                         " bytes): the client sends nothing more; answer NoMatch (Truncated)";
      return report;
    }
    if (settled && !same_decision(v, first_settled)) {
      report.violation = "the verdict changed at " + std::to_string(n) + " bytes after it was given" +
                         (at_end ? " (at EOF)" : "") + ": an answer other than NeedMore must not change";
      return report;
    }
    if (!settled && v.kind != VerdictKind::NeedMore) {
      settled = true;
      first_settled = v;
    }
    if (!polled_settled && (n >= wanted || at_end)) {
      polled = v;
      if (v.kind == VerdictKind::NeedMore) wanted = v.need_bytes;
      else polled_settled = true;
    }
  }
  report.verdict = protocol.identify({input, eof, capacity});
  if (!same_decision(polled, report.verdict) && polled_settled)
    report.violation = "polling only at the asked-for sizes gave another verdict than the whole input";
  return report;
}

}  // namespace passthru::testing
