#include "passthru/wire/mproxy_codec.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <utility>

namespace passthru::mproxy {

namespace {

constexpr std::array<std::pair<std::string_view, Kind>, 6> kKeywords{{{"connection", Kind::Connection},
                                                                        {"control", Kind::Control},
                                                                        {"end", Kind::End},
                                                                        {"error", Kind::Error},
                                                                        {"pause", Kind::Pause},
                                                                        {"resume", Kind::Resume}}};

bool is_field_text(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F && c != ','; });
}

bool is_decimal(std::string_view s, std::size_t max_digits) noexcept {
  return !s.empty() && s.size() <= max_digits && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_port(std::string_view s) noexcept { return is_decimal(s, 5) && std::stoul(std::string(s)) <= 65535; }

bool is_address(std::string_view family, std::string_view address) noexcept {
  char text[64];
  if (address.empty() || address.size() >= sizeof text) return false;
  std::copy(address.begin(), address.end(), text);
  text[address.size()] = 0;
  unsigned char out[16];
  if (family == "IPv4") return inet_pton(AF_INET, text, out) == 1;
  if (family == "IPv6") return inet_pton(AF_INET6, text, out) == 1;
  return false;
}

std::vector<std::string> split(std::string_view header) {
  std::vector<std::string> fields;
  for (std::size_t start = 0;;) {
    std::size_t comma = header.find(',', start);
    fields.emplace_back(header.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

}  // namespace

std::string_view to_string(Kind kind) noexcept {
  switch (kind) {
    case Kind::Data: return "data";
    case Kind::Connection: return "connection";
    case Kind::Control: return "control";
    case Kind::End: return "end";
    case Kind::Error: return "error";
    case Kind::Pause: return "pause";
    case Kind::Resume: return "resume";
  }
  return "data";
}

std::optional<std::string> pack_header(Kind kind, const Meta& meta, std::size_t body_length, std::string& error) {
  for (std::string_view field : {std::string_view(meta.family), std::string_view(meta.address), std::string_view(meta.port),
                                 std::string_view(meta.service), std::string_view(meta.serviceport), std::string_view(meta.name)}) {
    if (!is_field_text(field)) {
      error = "a header field holds a comma or a control character: '" + std::string(field) + "'";
      return std::nullopt;
    }
  }
  std::string size = std::to_string(body_length);
  std::string header;
  switch (kind) {
    case Kind::Control: header = ",,," + size + ",control"; break;
    case Kind::Connection:
      header = meta.family + "," + meta.address + "," + meta.port + "," + size + ",connection," + meta.serviceport + "," +
               meta.name + "," + meta.service;
      break;
    case Kind::Data:
      header = meta.family + "," + meta.address + "," + meta.port + "," + size + "," + meta.service + "," +
               meta.serviceport + "," + meta.name;
      break;
    case Kind::End:
    case Kind::Error:
    case Kind::Pause:
    case Kind::Resume:
      header = meta.family + "," + meta.address + "," + meta.port + "," + size + "," + std::string(to_string(kind)) + "," +
               meta.serviceport + "," + meta.name;
      break;
  }
  if (header.size() > kMaxHeader) {
    // proxy-packer would write the length modulo 256 and corrupt the stream from here on.
    error = "the header would be " + std::to_string(header.size()) + " bytes; M-PROXY allows 255";
    return std::nullopt;
  }
  std::string out;
  out.reserve(2 + header.size() + body_length);
  out.push_back(static_cast<char>(kVersion1));
  out.push_back(static_cast<char>(header.size()));
  out += header;
  return out;
}

std::optional<std::string> pack(Kind kind, const Meta& meta, std::string_view body, bool oldways, std::string& error) {
  if (oldways && body.empty()) body = " ";  // proxy-packer's pack() never sends an empty body
  auto out = pack_header(kind, meta, body.size(), error);
  if (out) *out += body;
  return out;
}

std::optional<Message> parse_header(std::string_view header, std::size_t max_body, std::string& error) {
  // The Go encoder ends its header with a newline; a trailing empty field is also tolerated.
  while (!header.empty() && (header.back() == '\n' || header.back() == '\r' || header.back() == ' ')) header.remove_suffix(1);
  if (header.empty()) {
    error = "an empty header";
    return std::nullopt;
  }
  for (char c : header) {
    if (c < 0x20 || c >= 0x7F) {
      error = "a control or non-ASCII byte in a header";
      return std::nullopt;
    }
  }
  Message m;
  m.fields = split(header);
  if (m.fields.size() < 5) {
    error = "a header of " + std::to_string(m.fields.size()) + " fields; M-PROXY has at least 5";
    return std::nullopt;
  }
  const std::string& keyword = m.fields[4];
  m.kind = Kind::Data;
  for (const auto& [word, kind] : kKeywords)
    if (keyword == word) m.kind = kind;
  std::size_t expected = m.kind == Kind::Control ? 5 : m.kind == Kind::Connection ? 8 : 7;
  bool trailing_empty = m.fields.size() == expected + 1 && m.fields.back().empty();
  if (m.fields.size() != expected && !trailing_empty) {
    error = "a " + std::string(to_string(m.kind)) + " header has " + std::to_string(expected) + " fields, not " +
            std::to_string(m.fields.size());
    return std::nullopt;
  }
  if (!is_decimal(m.fields[3], 10) || std::stoull(m.fields[3]) > max_body) {
    error = "datalen '" + m.fields[3] + "' is not a decimal number up to " + std::to_string(max_body);
    return std::nullopt;
  }
  if (m.kind == Kind::Control) {
    if (!m.fields[0].empty() || !m.fields[1].empty() || !m.fields[2].empty()) {
      error = "a control header has empty family, address and port";
      return std::nullopt;
    }
    return m;
  }
  if (!is_address(m.fields[0], m.fields[1])) {
    error = "'" + m.fields[0] + "," + m.fields[1] + "' is not an IPv4 or IPv6 address";
    return std::nullopt;
  }
  if (!is_port(m.fields[2]) || (!m.fields[5].empty() && !is_port(m.fields[5]))) {
    error = "a port is not a number from 0 to 65535";
    return std::nullopt;
  }
  m.meta.family = m.fields[0];
  m.meta.address = m.fields[1];
  m.meta.port = m.fields[2];
  m.meta.serviceport = m.fields[5];
  m.meta.name = m.fields[6];
  m.meta.service = m.kind == Kind::Connection ? m.fields[7] : m.kind == Kind::Data ? m.fields[4] : "";
  return m;
}

std::size_t body_length(const Message& header) noexcept { return std::stoull(header.fields[3]); }

bool Decoder::step(std::string_view& bytes) {
  switch (state_) {
    case State::Version:
      if (static_cast<std::uint8_t>(bytes.front()) != kVersion1) {
        error_ = "version byte " + std::to_string(static_cast<std::uint8_t>(bytes.front())) + ", not 254 (M-PROXY v1)";
        return false;
      }
      bytes.remove_prefix(1);
      state_ = State::Length;
      return true;
    case State::Length:
      want_ = static_cast<std::uint8_t>(bytes.front());
      bytes.remove_prefix(1);
      if (want_ == 0) {
        error_ = "an empty header";
        return false;
      }
      last_header_ = want_;
      collected_.clear();
      state_ = State::Header;
      return true;
    case State::Header:
    case State::Body: {
      std::size_t n = std::min(want_ - collected_.size(), bytes.size());
      collected_.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      if (collected_.size() < want_) return true;
      if (state_ == State::Header) {
        auto parsed = parse_header(collected_, max_body_, error_);
        if (!parsed) return false;
        current_ = std::move(*parsed);
        want_ = body_length(current_);
        collected_.clear();
        state_ = State::Body;
        if (want_ != 0) return true;
      }
      current_.body = std::move(collected_);
      collected_.clear();
      ready_ = true;
      state_ = State::Version;
      return true;
    }
  }
  return false;
}

std::string Decoder::take_partial_body() {
  want_ -= collected_.size();
  return std::exchange(collected_, {});
}

void Decoder::skip_body(std::size_t n) noexcept {
  want_ -= std::min(n, body_left());
  if (want_ == 0 && collected_.empty()) state_ = State::Version;  // delivered in pieces: nothing to give
}

Message Decoder::take() {
  ready_ = false;
  return std::move(current_);
}

}  // namespace passthru::mproxy
