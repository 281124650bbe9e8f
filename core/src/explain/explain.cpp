#include "explain.hpp"

#include <cstdio>

#include "../router/detection.hpp"

namespace passthru::core {

namespace {

using passthru::sdk::ByteSpan;
using passthru::sdk::NoMatchReason;
using passthru::sdk::Verdict;
using passthru::sdk::VerdictKind;

const char* reason_token(NoMatchReason reason) {
  switch (reason) {
    case NoMatchReason::NotThisProtocol: return "not this protocol";
    case NoMatchReason::Malformed: return "malformed";
    case NoMatchReason::TooLarge: return "too large";
    case NoMatchReason::Truncated: return "truncated: the capture ends inside its message";
  }
  return "no match";
}

/// A fact value as a person reads it: printable ASCII as is, other bytes as \xNN.
std::string printable(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

/// An address without its port: "192.0.2.7", "2001:db8::1".
std::string address_text(const sockaddr* address) {
  std::string text = format_address(address);
  text = text.substr(0, text.rfind(':'));
  if (text.starts_with('[')) text = text.substr(1, text.size() - 2);
  return text;
}

std::string bytes_text(std::size_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

const char* style_text(RejectStyle style) {
  switch (style) {
    case RejectStyle::Close: return "";
    case RejectStyle::Reset: return " (reject = reset)";
    case RejectStyle::TlsAlert: return " (reject = tls_alert)";
    case RejectStyle::Http: return " (reject = http)";
  }
  return "";
}

std::string facts_text(const FactList& facts) {
  std::string out;
  facts.for_each([&](const passthru::sdk::Fact& fact) {
    out += out.empty() ? "" : " ";
    out += std::string(fact.key) + "=";
    switch (fact.kind) {
      case passthru::sdk::FactKind::Text: out += printable(fact.value); break;
      case passthru::sdk::FactKind::Wire: out += "(" + std::to_string(fact.value.size()) + " bytes)"; break;
      case passthru::sdk::FactKind::Ambiguous: out += "(ambiguous)"; break;
    }
  });
  return out.empty() ? "none" : out;
}

class Explainer {
 public:
  Explainer(const Config& config, const ServerConfig& server, const sockaddr* client, std::string& out)
      : config_(config), server_(server), client_(client), out_(out) {}

  std::string at(const Action& action) const {
    return config_.path.filename().string() + ":" + std::to_string(action.where.line);
  }

  std::string action_text(const Action& action) const {
    switch (action.kind) {
      case ActionKind::Forward: {
        std::string to = action.to.to_string();
        if (action.pool) {
          to.clear();
          for (const Endpoint& backend : action.pool->backends()) to += (to.empty() ? "" : ", ") + backend.to_string();
          to = "[" + to + "]";
        }
        return "FORWARD to " + to;
      }
      case ActionKind::Reject: return std::string("REJECT") + style_text(action.reject);
      case ActionKind::Unwrap: return "UNWRAP";
      case ActionKind::Demux: return "DEMUX";
      case ActionKind::Mux: return "MUX through tunnel " + action.tunnel;
    }
    return "?";
  }

  /// Each protocol in order, as Detection consults them, told in lines.
  void walk(ByteSpan all) {
    std::uint64_t used = 0;
    std::size_t offset = 0;
    const sockaddr* client = client_;
    sockaddr_storage adopted{};
    for (std::size_t i = 0; i < server_.protocols.size(); ++i) {
      if (used >> i & 1) continue;
      const ProtocolTable& table = server_.protocols[i];
      ByteSpan bytes = all.subspan(std::min(offset, all.size()));
      std::size_t capacity = server_.max_sniff_bytes - offset;
      // The fewest bytes after which it answers: poll where it asked, as Detection does.
      std::size_t n = std::min<std::size_t>(1, bytes.size());
      Verdict verdict;
      while (true) {
        verdict = table.protocol->identify({bytes.first(n), false, capacity, client_});
        if (verdict.kind != VerdictKind::NeedMore) break;
        if (n >= bytes.size()) {
          verdict = table.protocol->identify({bytes, true, capacity, client_});
          break;
        }
        n = std::min<std::size_t>(std::max<std::size_t>(verdict.need_bytes, n + 1), bytes.size());
      }
      out_ += std::to_string(i + 1) + ". " + table.name + ": ";
      if (verdict.kind == VerdictKind::NoMatch || verdict.kind == VerdictKind::NeedMore) {
        out_ += "no match after " + bytes_text(n) + " (" +
                (verdict.kind == VerdictKind::NeedMore ? "still wanted more at the end of the capture"
                                                       : reason_token(verdict.reason)) + ")\n";
        continue;
      }
      FactList facts(verdict.facts);
      out_ += "match after " + bytes_text(n) + "\n   facts: " + facts_text(facts) + "\n";
      if (verdict.rule >= table.actions.size()) {
        out_ += "   none of its rules applies (not even a CATCHALL): the listener's CATCHALL decides\n";
        return;
      }
      const Action& chosen = table.actions[verdict.rule];
      const Action* action = &chosen;
      if (!chosen.client.admits(client)) {
        out_ += "   rule '" + chosen.rule + "' (" + at(chosen) + ") matches, but its from / not_from leave out client " +
                address_text(client) + "\n";
        action = nullptr;
        for (const Action& other : table.actions)
          if (other.rule == "CATCHALL" && &other != &chosen && other.client.admits(client)) action = &other;
        if (!action) {
          out_ += "   and no CATCHALL of the table admits it: the listener's CATCHALL decides\n";
          return;
        }
      }
      out_ += "   rule '" + action->rule + "' (" + at(*action) + "): " + action_text(*action) + "\n";
      if (action->kind != ActionKind::Unwrap) return;
      out_ += "   strips " + std::to_string(verdict.consumed) + " bytes of header";
      if (verdict.adopted.present) {
        adopted = verdict.adopted.source;
        client = reinterpret_cast<const sockaddr*>(&adopted);
        out_ += "; the client is now " + address_text(client);
      }
      out_ += "; detection starts again after it\n";
      offset += verdict.consumed;
      used |= std::uint64_t{1} << i;
      i = static_cast<std::size_t>(-1);
    }
    out_ += "   no protocol matched: the listener's CATCHALL decides\n";
  }

  std::string decision_text(const Decision& d) const {
    if (d.kind == Decision::Kind::Pending) return "none yet: the capture ends before a decision";
    if (d.kind == Decision::Kind::Rule)
      return d.protocol->name + " rule '" + d.action->rule + "' (" + at(*d.action) + "): " + action_text(*d.action);
    std::string where = std::string("the listener's CATCHALL, for ") + to_token(d.fallback);
    if (!d.action) return where + ": it has none, the connection is closed";
    if (!d.action->client.admits(client_)) return where + ": its from / not_from leave the client out, closed";
    return where + " (" + at(*d.action) + "): " + action_text(*d.action);
  }

 private:
  const Config& config_;
  const ServerConfig& server_;
  const sockaddr* client_;
  std::string& out_;
};

/// The decision for `bytes` arriving as `cuts` says (each a count of bytes so far), then EOF.
Decision decide(const ServerConfig& server, ByteSpan bytes, const std::vector<std::size_t>& cuts, const sockaddr* peer) {
  Detection detection(server);
  for (std::size_t cut : cuts) {
    bool full = cut >= server.max_sniff_bytes;
    Decision d = detection.advance(bytes.first(std::min<std::size_t>(cut, server.max_sniff_bytes)), false, full, peer);
    if (d.kind != Decision::Kind::Pending) return d;
  }
  return detection.advance(bytes.first(std::min<std::size_t>(bytes.size(), server.max_sniff_bytes)), true, false, peer);
}

bool same(const Decision& a, const Decision& b) {
  return a.kind == b.kind && a.action == b.action && a.protocol == b.protocol &&
         (a.kind != Decision::Kind::ServerCatchall || a.fallback == b.fallback);
}

}  // namespace

int explain(const Config& config, const ExplainRequest& request, ByteSpan capture, std::string& out) {
  const ServerConfig* server = nullptr;
  for (const ServerConfig& s : config.servers)
    if (request.listener.empty() ? config.servers.size() == 1 : s.key == request.listener) server = &s;
  if (!server) {
    out += "no listener '" + request.listener + "' in " + config.path.string() + "; its listeners:";
    for (const ServerConfig& s : config.servers) out += " " + s.key;
    out += "\n";
    return 2;
  }
  const sockaddr* client = request.client.get();
  out += "listener " + server->key + ", client " + address_text(client) + ", " + bytes_text(capture.size()) + "\n";
  Explainer explainer(config, *server, client, out);
  explainer.walk(capture);
  Decision whole = decide(*server, capture, {capture.size()}, client);
  out += "decision: " + explainer.decision_text(whole) + "\n";
  if (request.split == 0) return 0;
  // Every way of cutting into `split`-byte segments: the first segment 1 to `split` bytes long.
  std::size_t tried = 0;
  for (std::size_t first = 1; first <= request.split && first <= std::max<std::size_t>(capture.size(), 1); ++first) {
    std::vector<std::size_t> cuts;
    for (std::size_t cut = first; cut < capture.size(); cut += request.split) cuts.push_back(cut);
    cuts.push_back(capture.size());
    ++tried;
    Decision d = decide(*server, capture, cuts, client);
    if (!same(d, whole)) {
      out += "split: DIFFERENT with " + std::to_string(request.split) + "-byte segments after a first of " +
             std::to_string(first) + " bytes: " + explainer.decision_text(d) + "\n";
      return 1;
    }
  }
  out += "split: the same decision at every cut into " + std::to_string(request.split) + "-byte segments (" +
         std::to_string(tried) + " ways)\n";
  return 0;
}

std::optional<std::string> parse_hex_dump(std::string_view text) {
  std::string bytes;
  int high = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') && high < 0) {
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':') continue;
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return std::nullopt;
    if (high < 0) {
      high = digit;
    } else {
      bytes += static_cast<char>(high << 4 | digit);
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return bytes;
}

}  // namespace passthru::core
