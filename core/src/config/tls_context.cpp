#include "tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace passthru::core {

namespace {
std::string last_error() {
  char text[256] = "unknown error";
  if (unsigned long code = ERR_get_error()) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

TlsContext wrap(SSL_CTX* context) { return TlsContext(context, SSL_CTX_free); }
}  // namespace

TlsContext make_tls_server_context(const std::string& cert_file, const std::string& key_file, std::string& error) {
  TlsContext context = wrap(SSL_CTX_new(TLS_server_method()));
  if (!context) {
    error = last_error();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(context.get(), cert_file.c_str()) != 1) {
    error = "cannot use the certificate " + cert_file + ": " + last_error();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(context.get()) != 1) {
    error = "cannot use the key " + key_file + " with that certificate: " + last_error();
    return nullptr;
  }
  return context;
}

TlsContext make_tls_client_context(const std::string& ca_file, std::string& error) {
  TlsContext context = wrap(SSL_CTX_new(TLS_client_method()));
  if (!context) {
    error = last_error();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(context.get())
                               : SSL_CTX_load_verify_locations(context.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    error = "cannot load the CA certificates " + (ca_file.empty() ? std::string("of the system") : ca_file) + ": " + last_error();
    return nullptr;
  }
  return context;
}

}  // namespace passthru::core
