// CloseReason: why a connection ended, as a short token for logs and a sentence for people.
// Switches over it have no default, so the compiler names a case that was forgotten.
#pragma once

#include <cstdint>

namespace passthru::core {

enum class CloseReason : std::uint8_t {
  Done,            ///< both sides finished sending and every byte was delivered
  Rejected,        ///< a REJECT rule applied
  NoRoute,         ///< the server CATCHALL was needed and the listener has none
  ClientError,     ///< reading from or writing to the client failed
  ClientReset,     ///< the client reset the connection (passed on to the backend)
  BackendError,    ///< reading from or writing to the backend failed
  BackendReset,    ///< the backend reset the connection (passed on to the client)
  ResolveFailed,   ///< the backend's host name did not resolve
  ConnectFailed,   ///< every address of the backend refused or failed
  ConnectTimeout,  ///< the backend did not accept within connect_timeout_ms
  ProtocolError,   ///< the client broke the protocol of its tunnel (M-PROXY)
  Shutdown,        ///< passthru is stopping
};

constexpr const char* token(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::Done: return "done";
    case CloseReason::Rejected: return "rejected";
    case CloseReason::NoRoute: return "no_route";
    case CloseReason::ClientError: return "client_error";
    case CloseReason::ClientReset: return "client_reset";
    case CloseReason::BackendError: return "backend_error";
    case CloseReason::BackendReset: return "backend_reset";
    case CloseReason::ResolveFailed: return "resolve_failed";
    case CloseReason::ConnectFailed: return "connect_failed";
    case CloseReason::ConnectTimeout: return "connect_timeout";
    case CloseReason::ProtocolError: return "protocol_error";
    case CloseReason::Shutdown: return "shutdown";
  }
  return "unknown";
}

constexpr const char* describe(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::Done: return "both sides finished and every byte was delivered";
    case CloseReason::Rejected: return "a REJECT rule applied";
    case CloseReason::NoRoute: return "no rule applied and the listener has no server CATCHALL";
    case CloseReason::ClientError: return "an error on the client's side of the connection";
    case CloseReason::ClientReset: return "the client reset the connection";
    case CloseReason::BackendError: return "an error on the backend's side of the connection";
    case CloseReason::BackendReset: return "the backend reset the connection";
    case CloseReason::ResolveFailed: return "the backend's host name did not resolve";
    case CloseReason::ConnectFailed: return "no address of the backend accepted the connection";
    case CloseReason::ConnectTimeout: return "the backend did not accept in time";
    case CloseReason::ProtocolError: return "the client broke the tunnel's protocol";
    case CloseReason::Shutdown: return "passthru is stopping";
  }
  return "unknown";
}

}  // namespace passthru::core
