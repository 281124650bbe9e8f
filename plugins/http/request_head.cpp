#include "request_head.hpp"

#include <cstring>

#include "../common/name_table.hpp"

namespace passthru::http {

namespace {

constexpr std::size_t kMaxMethod = 32;
constexpr std::size_t kMaxLeadingEmptyLines = 8;
// RFC 9113 §3.4: the client connection preface.
constexpr std::string_view kH2cPreface{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24};

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

HeadParse with_status(HeadStatus s) noexcept {
  HeadParse p;
  p.status = s;
  return p;
}

HeadParse need(std::size_t total, bool eof, std::size_t capacity) noexcept {
  if (total > capacity) return with_status(HeadStatus::TooLarge);
  if (eof) return with_status(HeadStatus::Truncated);
  HeadParse p;
  p.need_bytes = total;
  return p;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Splits an absolute-form target "http://user@host:port/path?q" into authority and path.
bool split_absolute(std::string_view target, std::string_view& authority, std::string_view& path) noexcept {
  auto scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return false;
  std::string_view scheme = target.substr(0, scheme_end);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
  std::string_view rest = target.substr(scheme_end + 3);
  std::size_t end = rest.find_first_of("/?#");
  authority = rest.substr(0, end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  path = end == std::string_view::npos ? std::string_view("/") : rest.substr(end);
  return true;
}

std::string_view cut_query(std::string_view target) noexcept {
  return target.substr(0, target.find_first_of("?#"));
}

}  // namespace

bool set_host(std::string_view authority, RequestHead& head) noexcept {
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {  // RFC 3986 §3.2.2 IP-literal
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port.front() != ':') return false;
    if (host.size() > head.host_storage.size()) return false;
    for (std::size_t i = 0; i < host.size(); ++i) {
      char c = host[i];
      bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                c == '.' || c == '[' || c == ']';
      if (!ok) return false;
      head.host_storage[i] = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    head.host_length = host.size();
  } else {
    if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
      port = host.substr(colon);
      host = host.substr(0, colon);
    }
    if (!passthru::common::normalize_host_name(host, head.host_storage.data(), head.host_length)) return false;
  }
  if (!port.empty()) port.remove_prefix(1);  // ':'
  if (port.size() > 5) return false;
  for (char c : port)
    if (c < '0' || c > '9') return false;
  head.host_state = HostState::Usable;
  return true;
}

HeadParse parse_request_head(passthru::sdk::ByteSpan input, bool eof, std::size_t capacity,
                             bool with_headers) noexcept {
  std::string_view b = passthru::sdk::as_chars(input);
  std::size_t pos = 0;
  // RFC 9112 §2.2: empty lines before the request line are ignored.
  for (std::size_t lines = 0; pos < b.size() && (b[pos] == '\r' || b[pos] == '\n'); ++lines) {
    if (lines == kMaxLeadingEmptyLines) return with_status(HeadStatus::NotHttp);
    if (b[pos] == '\r') {
      if (pos + 1 == b.size()) return need(pos + 2, eof, capacity);
      if (b[pos + 1] != '\n') return with_status(HeadStatus::NotHttp);
      ++pos;
    }
    ++pos;
  }

  // method SP (RFC 9112 §3): a token, case-sensitive.
  std::size_t method_start = pos;
  while (pos < b.size() && pos - method_start <= kMaxMethod && is_tchar(b[pos])) ++pos;
  std::size_t method_length = pos - method_start;
  if (method_length > kMaxMethod) return with_status(HeadStatus::NotHttp);
  if (pos == b.size()) return need(pos + 1, eof, capacity);
  if (method_length == 0 || b[pos] != ' ') return with_status(HeadStatus::NotHttp);
  HeadParse p;
  p.head.method = b.substr(method_start, method_length);
  ++pos;

  // request-target SP: visible ASCII.
  std::size_t target_start = pos;
  while (pos < b.size() && b[pos] > 0x20 && b[pos] < 0x7F) ++pos;
  if (pos == b.size()) return need(pos + 1, eof, capacity);
  if (b[pos] == '\r' || b[pos] == '\n') return with_status(HeadStatus::NotHttp);  // HTTP/0.9: not served
  if (b[pos] != ' ' || pos == target_start) return with_status(HeadStatus::Malformed);
  std::string_view target = b.substr(target_start, pos - target_start);
  ++pos;

  // HTTP-version: "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
  constexpr std::string_view kShape = "HTTP/0.0";
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    if (pos + i == b.size()) return need(pos + i + 1, eof, capacity);
    char c = b[pos + i];
    bool ok = kShape[i] == '0' ? (c >= '0' && c <= '9') : c == kShape[i];
    if (!ok) return with_status(HeadStatus::Malformed);
  }
  std::string_view version = b.substr(pos + 5, 3);
  pos += kShape.size();

  if (version == "2.0") {  // only the h2c preface may say 2.0 here
    if (p.head.method != "PRI" || target != "*" || method_start != 0) return with_status(HeadStatus::Malformed);
    for (std::size_t i = pos; i < kH2cPreface.size(); ++i) {
      if (i == b.size()) return need(i + 1, eof, capacity);
      if (b[i] != kH2cPreface[i]) return with_status(HeadStatus::Malformed);
    }
    p.status = HeadStatus::Complete;
    p.head.h2c = true;
    return p;
  }
  if (version != "1.0" && version != "1.1") return with_status(HeadStatus::Malformed);
  if (pos == b.size()) return need(pos + 1, eof, capacity);
  if (b[pos] == '\r') {
    if (pos + 1 == b.size()) return need(pos + 2, eof, capacity);
    if (b[pos + 1] != '\n') return with_status(HeadStatus::Malformed);
    ++pos;
  }
  if (b[pos] != '\n') return with_status(HeadStatus::Malformed);
  ++pos;

  // The target names the host in absolute form, and in authority form for CONNECT.
  bool host_from_target = false;
  std::string_view authority;
  std::string_view path;
  if (p.head.method == "CONNECT") {
    host_from_target = true;
    authority = target;
  } else if (split_absolute(target, authority, path)) {
    host_from_target = true;
    p.head.path = cut_query(path);
  } else if (target.front() == '/') {
    p.head.path = cut_query(target);
  }
  if (host_from_target && !set_host(authority, p.head)) p.head.host_state = HostState::Ambiguous;

  if (with_headers) {
    // Field lines up to the empty line (RFC 9112 §5). Only complete lines are read, so a Host
    // line split across reads is never taken half-way.
    RequestHead field_host;
    bool defect = false;
    for (;;) {
      std::size_t lf = b.find('\n', pos);
      if (lf == std::string_view::npos) return need(b.size() + 1, eof, capacity);
      std::string_view line = b.substr(pos, lf - pos);
      pos = lf + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) break;
      auto colon = line.find(':');
      std::string_view name = line.substr(0, colon);
      if (line.find('\r') != std::string_view::npos || line.front() == ' ' || line.front() == '\t' ||
          colon == std::string_view::npos || colon == 0) {
        defect = true;  // a bare CR, obs-fold, or no field name
        continue;
      }
      bool name_ok = true;
      for (char c : name) name_ok = name_ok && is_tchar(c);
      if (!name_ok) {
        defect = true;  // includes whitespace before the colon (RFC 9112 §5.1)
        continue;
      }
      if (!iequals(name, "host")) continue;
      RequestHead value;
      if (!set_host(trim(line.substr(colon + 1)), value)) {
        defect = true;
      } else if (field_host.host_state == HostState::Usable && field_host.host() != value.host()) {
        defect = true;  // two different Host values
      } else {
        field_host = value;
      }
    }
    if (defect) {
      p.head.host_state = HostState::Ambiguous;
    } else if (!host_from_target && field_host.host_state == HostState::Usable) {
      p.head.host_state = HostState::Usable;
      p.head.host_storage = field_host.host_storage;
      p.head.host_length = field_host.host_length;
    }
  }
  p.status = HeadStatus::Complete;
  return p;
}

}  // namespace passthru::http
