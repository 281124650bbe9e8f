// Refusal: how a REJECT rule ends a connection, by its reject style. "close" is a FIN, "reset"
// a RST; "tls_alert" first writes one TLS alert record (RFC 8446 §6: fatal unrecognized_name
// when the client named a server, handshake_failure otherwise) in the record version the client
// used; "http" first writes an HTTP/1.1 response (RFC 9110 §15.5.20: 421 Misdirected Request by
// default) with a short body and Connection: close. Either is a few dozen bytes written at once
// into the socket's empty send buffer, so nothing waits. It owns nothing: it is handed the
// client's socket and closes it.
#pragma once

#include <cstddef>
#include <string>

#include "../config/config.hpp"
#include "../router/fact_list.hpp"
#include "passthru/sdk/bytes.hpp"
#include "socket.hpp"

namespace passthru::core {

/// The bytes `action`'s reject style writes before closing (empty for close and reset).
/// `first_bytes` is what the client sent (a TLS record's header gives its version).
std::string refusal_bytes(const Action& action, passthru::sdk::ByteSpan first_bytes, const FactList& facts);

/// Refuses the client as `action` says, and closes its socket. Returns the bytes the client was
/// sent (its bytes_down).
std::size_t refuse(Socket client, const Action& action, passthru::sdk::ByteSpan first_bytes, const FactList& facts) noexcept;

}  // namespace passthru::core
