// CloseReason: why a connection ended, as the short token its log line's end= shows.
// Switches over it have no default, so the compiler names a case that was forgotten.
#pragma once

#include <cerrno>
#include <cstdint>

namespace passthru::core {

enum class CloseReason : std::uint8_t {
  Done,            ///< both sides finished sending and every byte was delivered
  Rejected,        ///< a REJECT rule applied
  NoRoute,         ///< the server CATCHALL was needed and the listener has none
  ClientError,     ///< reading from or writing to the client failed
  ClientReset,     ///< the client reset the connection (passed on to the backend)
  ClientClosed,    ///< the client finished sending, then closed its socket before taking the whole reply
  BackendError,    ///< reading from or writing to the backend failed
  BackendReset,    ///< the backend reset the connection (passed on to the client)
  ResolveFailed,   ///< the backend's host name did not resolve
  ConnectFailed,   ///< every address of the backend refused or failed
  ConnectTimeout,  ///< the backend did not accept within connect_timeout_ms
  OutOfDescriptors,  ///< no socket could be made for the backend: the process is at its limit
  SourceRefused,   ///< the kernel refused to connect from the client's address (and port): source =
                   ///< "client" or "client_port", and that pair is in use, not allowed, or of another family
  ProtocolError,   ///< the client broke the protocol of its tunnel (M-PROXY)
  TunnelClosed,    ///< the M-PROXY tunnel carrying this stream ended
  IdleTimeout,     ///< no byte either way for idle_timeout_ms
  HalfClosedTimeout,  ///< one side sent its FIN half_closed_timeout_ms ago and the other is still open
  MaxLifetime,     ///< open for max_lifetime_ms
  SourceLimit,     ///< the address a PROXY header gave already had max_connections_per_source
  TunnelLost,      ///< the outgoing M-PROXY tunnel carrying this connection (MUX) was lost
  Loop,            ///< FORWARD to ORIGINAL would connect to passthru's own listener: the client
                   ///< reached a transparent listener directly, not through TPROXY
  Shutdown,        ///< passthru is stopping (keep it last: the metrics size their tables by it)
};

constexpr const char* token(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::Done: return "done";
    case CloseReason::Rejected: return "rejected";
    case CloseReason::NoRoute: return "no_route";
    case CloseReason::ClientError: return "client_error";
    case CloseReason::ClientReset: return "client_reset";
    case CloseReason::ClientClosed: return "client_closed";
    case CloseReason::BackendError: return "backend_error";
    case CloseReason::BackendReset: return "backend_reset";
    case CloseReason::ResolveFailed: return "resolve_failed";
    case CloseReason::ConnectFailed: return "connect_failed";
    case CloseReason::ConnectTimeout: return "connect_timeout";
    case CloseReason::OutOfDescriptors: return "out_of_descriptors";
    case CloseReason::SourceRefused: return "source_refused";
    case CloseReason::ProtocolError: return "protocol_error";
    case CloseReason::TunnelClosed: return "tunnel_closed";
    case CloseReason::IdleTimeout: return "idle_timeout";
    case CloseReason::HalfClosedTimeout: return "half_closed_timeout";
    case CloseReason::MaxLifetime: return "max_lifetime";
    case CloseReason::SourceLimit: return "source_limit";
    case CloseReason::TunnelLost: return "tunnel_lost";
    case CloseReason::Loop: return "loop";
    case CloseReason::Shutdown: return "shutdown";
  }
  return "unknown";
}

/// Why a connection (or stream) ends when a read or write on one side's socket failed with
/// `error`, a negated errno: a reset said as such (ECONNRESET, or EPIPE: written after the peer
/// reset), anything else an error.
constexpr bool is_reset(long error) noexcept { return error == -ECONNRESET || error == -EPIPE; }
constexpr CloseReason client_failure(long error) noexcept {
  return is_reset(error) ? CloseReason::ClientReset : CloseReason::ClientError;
}
constexpr CloseReason backend_failure(long error) noexcept {
  return is_reset(error) ? CloseReason::BackendReset : CloseReason::BackendError;
}

}  // namespace passthru::core
