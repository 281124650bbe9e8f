// TLS contexts for the links passthru itself encrypts: an M-PROXY tunnel's (tls = true on a
// [tunnels.NAME], tls_cert/tls_key on the DEMUX rule that accepts it). Never for routed
// traffic, which stays passthrough. Made when the config is loaded, so that a missing or bad
// certificate is a config error; OpenSSL 3 (libssl-dev), kept out of config.hpp's includes.
#pragma once

#include <memory>
#include <string>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace passthru::core {

using TlsContext = std::shared_ptr<ssl_ctx_st>;

/// A server context with this certificate chain and key (PEM); nullptr with `error` set.
TlsContext make_tls_server_context(const std::string& cert_file, const std::string& key_file, std::string& error);
/// A client context that verifies the peer against `ca_file` (PEM), or the system store when it
/// is empty; nullptr with `error` set.
TlsContext make_tls_client_context(const std::string& ca_file, std::string& error);

}  // namespace passthru::core
