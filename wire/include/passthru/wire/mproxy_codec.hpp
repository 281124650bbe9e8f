// The M-PROXY codec, version 1 (the wire format of the npm package proxy-packer 2.0.4): many
// client streams framed over one connection. Each message is
//   0xFE  hdrlen  header(hdrlen bytes: "family,address,port,datalen,service,serviceport,name")  body(datalen bytes)
// with `connection` (8 fields, the application service last), `control` (",,,datalen,control"),
// and `end`, `error`, `pause`, `resume` (the keyword in place of the service).
//
// pack() writes exactly what proxy-packer's packHeader/pack write for valid input, and refuses
// what they would corrupt (a header over 255 bytes, commas or control characters in a field).
// Decoder reads strictly: a wrong version byte, a non-numeric or oversized datalen, a bad field
// or an unknown layout is a protocol error, never a guess, and the messages it gives do not
// depend on how the bytes were chunked. A library: no sockets, no plugin interface. The MPROXY
// plugin reads a connection's first header with it, the core's DEMUX endpoint the whole tunnel,
// and tools/mproxy exposes it on the command line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passthru::mproxy {

inline constexpr std::uint8_t kVersion1 = 0xFE;  // "255 - version"
inline constexpr std::size_t kMaxHeader = 255;

enum class Kind : std::uint8_t { Data, Connection, Control, End, Error, Pause, Resume };

/// "data", "connection", "control", "end", "error", "pause", "resume".
std::string_view to_string(Kind kind) noexcept;

/// A message's header fields, as text (ports as written, "" where empty).
struct Meta {
  std::string family;       ///< "IPv4" or "IPv6"; empty for control
  std::string address;
  std::string port;         ///< the client's source port
  std::string service;      ///< the application service ("https", "tcp"…); "" if none
  std::string serviceport;  ///< the listening port, or ""
  std::string name;         ///< SNI or Host, or ""

  /// The stream's id: "family,address,port".
  [[nodiscard]] std::string id() const { return family + "," + address + "," + port; }
};

struct Message {
  Kind kind = Kind::Data;
  Meta meta;
  std::string body;
  std::vector<std::string> fields;  ///< the header split on ',', exactly as on the wire
};

/// proxy-packer's packHeader(meta, body, service, andBody = true, oldways): the header and the
/// body. `oldways` is its pack(): an empty body is sent as one space. nullopt, with `error`
/// set, for what it would corrupt.
std::optional<std::string> pack(Kind kind, const Meta& meta, std::string_view body, bool oldways,
                                std::string& error);

/// The version byte, the length byte and the header of a message whose body of `body_length`
/// bytes follows separately (spliced from a pipe): pack() less its body.
std::optional<std::string> pack_header(Kind kind, const Meta& meta, std::size_t body_length, std::string& error);

/// Parses one header (the hdrlen bytes) strictly. nullopt, with `error` set, if it is not one.
std::optional<Message> parse_header(std::string_view header, std::size_t max_body, std::string& error);

/// The datalen a header declares (parse_header must have accepted it).
std::size_t body_length(const Message& header) noexcept;

class Decoder {
 public:
  explicit Decoder(std::size_t max_body = 1 << 20) : max_body_(max_body) {}

  /// Feeds the next bytes and calls on_message(Message&&) for each complete message. Returns
  /// false at the first protocol error (error() says what); the stream cannot be read further.
  template <typename OnMessage>
  bool feed(std::string_view bytes, OnMessage&& on_message) {
    while (!bytes.empty() || ready()) {
      if (ready()) {
        on_message(take());
        continue;
      }
      if (!step(bytes)) return false;
    }
    return true;
  }

  [[nodiscard]] const std::string& error() const noexcept { return error_; }

  // A data message's body may bypass the decoder (a tunnel endpoint splices bulk bodies from
  // its socket straight to the stream's backend). While one is being read:
  /// The data message whose body is being read (its header fields; its body is not filled
  /// in), or nullptr between messages or in another kind of message.
  [[nodiscard]] const Message* data_body_in_progress() const noexcept {
    return state_ == State::Body && current_.kind == Kind::Data ? &current_ : nullptr;
  }
  /// How many bytes of that body have not been fed yet.
  [[nodiscard]] std::size_t body_left() const noexcept { return want_ - collected_.size(); }
  /// Takes the part of that body fed so far, to be delivered before the bytes that follow.
  std::string take_partial_body();
  /// `n` more bytes of that body (at most body_left()) were delivered without being fed; once
  /// the whole body is delivered, the message is done and is not given to on_message.
  void skip_body(std::size_t n) noexcept;
  /// Whether it is between messages (nothing half-read).
  [[nodiscard]] bool idle() const noexcept { return state_ == State::Version && !ready_; }
  /// How many bytes there are to the end of the next header, so that a read of no more takes no
  /// byte of the body after it: exact within a header; before one (between messages, or after its
  /// version byte), its version and length bytes and a header as long as the last one was (the
  /// longest allowed before the first). 0 within a body.
  [[nodiscard]] std::size_t header_left() const noexcept {
    switch (state_) {
      case State::Version: return ready_ ? 0 : 2 + last_header_;
      case State::Length: return 1 + last_header_;
      case State::Header: return want_ - collected_.size();
      case State::Body: return 0;
    }
    return 0;
  }

 private:
  enum class State : std::uint8_t { Version, Length, Header, Body };
  bool step(std::string_view& bytes);
  [[nodiscard]] bool ready() const noexcept { return ready_; }
  Message take();

  std::size_t max_body_;
  State state_ = State::Version;
  std::size_t want_ = 0;
  std::size_t last_header_ = kMaxHeader;  ///< the length of the last header begun
  std::string collected_;
  Message current_;
  bool ready_ = false;
  std::string error_;
};

}  // namespace passthru::mproxy
