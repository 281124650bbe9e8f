#include "reject.hpp"

#include <sys/socket.h>

namespace passthru::core {

namespace {

constexpr unsigned char kAlertRecord = 21;          // RFC 8446 §5.1 ContentType alert
constexpr unsigned char kFatal = 2;                 // RFC 8446 §6 AlertLevel fatal
constexpr unsigned char kHandshakeFailure = 40;     // RFC 8446 §6 AlertDescription
constexpr unsigned char kUnrecognizedName = 112;    // RFC 6066 §3

const char* reason_phrase(std::uint16_t status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Client Error" : "Server Error";
  }
}

}  // namespace

std::string refusal_bytes(const Action& action, passthru::sdk::ByteSpan first_bytes, const FactList& facts) {
  switch (action.reject) {
    case RejectStyle::Close:
    case RejectStyle::Reset:
      return {};
    case RejectStyle::TlsAlert: {
      // The record version the client's ClientHello record carried (RFC 8446 §5.1: 0x0301 or
      // 0x0303 in practice); TLS 1.2 when it did not say.
      unsigned char major = 3, minor = 3;
      if (first_bytes.size() >= 3 && first_bytes[0] == 22 && first_bytes[1] == 3 && first_bytes[2] <= 4) {
        major = static_cast<unsigned char>(first_bytes[1]);
        minor = static_cast<unsigned char>(first_bytes[2]);
      }
      bool named = !facts.find(passthru::sdk::fact_key::kSni).empty();
      const unsigned char record[] = {kAlertRecord, major, minor, 0, 2, kFatal,
                                      named ? kUnrecognizedName : kHandshakeFailure};
      return std::string(reinterpret_cast<const char*>(record), sizeof record);
    }
    case RejectStyle::Http: {
      std::string status = std::to_string(action.status) + " " + reason_phrase(action.status);
      std::string body = status + "\n";
      return "HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\nConnection: close\r\n\r\n" + body;
    }
  }
  return {};
}

std::size_t refuse(Socket client, const Action& action, passthru::sdk::ByteSpan first_bytes, const FactList& facts) noexcept {
  if (action.reject == RejectStyle::Reset) {
    client.close(true);
    return 0;
  }
  std::string bytes;
  try {
    bytes = refusal_bytes(action, first_bytes, facts);
  } catch (...) {  // out of memory: a plain close then
  }
  ssize_t written = 0;
  if (!bytes.empty()) {
    written = client.write(bytes.data(), bytes.size());  // a peer gone already: nothing to tell it
    // Take what the client sent meanwhile, so that the close sends a FIN after the answer, not a
    // RST that could make the client drop the answer unread.
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(client.fd(), sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
    (void)client.shut_write();
  }
  client.close();
  return written > 0 ? static_cast<std::size_t>(written) : 0;
}

}  // namespace passthru::core
