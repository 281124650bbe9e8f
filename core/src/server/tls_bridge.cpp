#include "tls_bridge.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "event_set.hpp"

namespace passthru::core {

namespace {
constexpr std::size_t kChunk = 64 * 1024;  // one buffer each way, as a relay holds
}

std::unique_ptr<TlsBridge> TlsBridge::open(EventSet& events, Socket network, const TlsContext& context, bool server,
                                           const std::string& server_name, std::string_view already_read, Socket& plain,
                                           std::string& error) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0) {
    error = std::string("socketpair: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<TlsBridge> bridge(new TlsBridge());
  bridge->inner_ = Socket(events, pair[0]);
  plain = Socket(events, pair[1]);
  bridge->server_ = server;
  bridge->ssl_ = SSL_new(context.get());
  bridge->in_ = BIO_new(BIO_s_mem());
  bridge->out_ = BIO_new(BIO_s_mem());
  if (!bridge->ssl_ || !bridge->in_ || !bridge->out_) {
    error = "cannot make a TLS session";
    return nullptr;
  }
  SSL_set_bio(bridge->ssl_, bridge->in_, bridge->out_);
  if (server) {
    SSL_set_accept_state(bridge->ssl_);
  } else {
    SSL_set_connect_state(bridge->ssl_);
    SSL_set_tlsext_host_name(bridge->ssl_, server_name.c_str());
    SSL_set1_host(bridge->ssl_, server_name.c_str());  // the certificate must name it
  }
  BIO_write(bridge->in_, already_read.data(), static_cast<int>(already_read.size()));
  bridge->network_ = std::move(network);
  if (bridge->network_.is_watched()) {
    bridge->network_.tell(*bridge);
  } else if (int status = bridge->network_.watch(*bridge); status < 0) {
    error = std::string("cannot watch the socket: ") + std::strerror(-status);
    return nullptr;
  }
  if (int status = bridge->inner_.watch(*bridge); status < 0) {
    error = std::string("cannot watch the socket pair: ") + std::strerror(-status);
    return nullptr;
  }
  bridge->network_.assume_writable();
  bridge->inner_.assume_writable();
  bridge->pump();
  return bridge;
}

TlsBridge::~TlsBridge() {
  close();
  if (ssl_) SSL_free(ssl_);  // and its BIOs
}

void TlsBridge::close() noexcept {
  closed_ = true;
  network_.close();
  inner_.close();
}

void TlsBridge::on_ready(Socket&) { pump(); }

void TlsBridge::fail(const std::string& why) {
  if (closed_) return;
  spdlog::warn("tunnel TLS: {}", why);
  close();  // the Tunnel sees its end close
}

bool TlsBridge::flush(Socket& socket, std::string& pending, std::size_t& written) {
  while (written < pending.size() && socket.may_write()) {
    ssize_t n = socket.write(pending.data() + written, pending.size() - written);
    if (n == -EAGAIN) break;
    if (n < 0) return false;
    written += static_cast<std::size_t>(n);
  }
  if (written == pending.size()) {
    pending.clear();
    written = 0;
  }
  return true;
}

void TlsBridge::collect_output() {
  char buffer[16 * 1024];
  for (int n; (n = BIO_read(out_, buffer, sizeof buffer)) > 0;) to_network_.append(buffer, static_cast<std::size_t>(n));
}

void TlsBridge::pump() {
  if (pumping_ || closed_) return;
  pumping_ = true;
  char buffer[16 * 1024];
  for (bool progress = true; progress && !closed_;) {
    progress = false;
    if (!flush(network_, to_network_, network_written_) || !flush(inner_, to_inner_, inner_written_)) {
      fail("a socket failed");
      break;
    }
    // Network bytes in, while the Tunnel's side has room.
    if (!network_eof_ && to_inner_.size() < kChunk && network_.may_read()) {
      ssize_t n = network_.read(buffer, sizeof buffer);
      if (n > 0) {
        BIO_write(in_, buffer, static_cast<int>(n));
        progress = true;
      } else if (n == 0) {
        network_eof_ = true;
        progress = true;
      } else if (n != -EAGAIN) {
        fail("the link failed");
        break;
      }
    }
    if (!SSL_is_init_finished(ssl_)) {
      int r = SSL_do_handshake(ssl_);
      collect_output();
      if (r != 1) {
        int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          long verify = SSL_get_verify_result(ssl_);
          char text[256] = "";
          ERR_error_string_n(ERR_get_error(), text, sizeof text);
          ERR_clear_error();
          fail(std::string("handshake failed: ") + text +
               (verify != X509_V_OK ? std::string(" (") + X509_verify_cert_error_string(verify) + ")" : ""));
          break;
        }
      } else {
        progress = true;
      }
    }
    if (SSL_is_init_finished(ssl_)) {
      // Plain bytes for the Tunnel.
      while (to_inner_.size() < kChunk) {
        int n = SSL_read(ssl_, buffer, sizeof buffer);
        if (n <= 0) break;
        to_inner_.append(buffer, static_cast<std::size_t>(n));
        progress = true;
      }
      // The Tunnel's bytes out, while the network has room.
      if (to_network_.size() < kChunk && inner_.may_read()) {
        ssize_t n = inner_.read(buffer, sizeof buffer);
        if (n > 0) {
          SSL_write(ssl_, buffer, static_cast<int>(n));  // a memory BIO takes it all
          progress = true;
        } else if (n == 0 || (n < 0 && n != -EAGAIN)) {
          SSL_shutdown(ssl_);  // the Tunnel closed its end: close_notify, then close
          collect_output();
          flush(network_, to_network_, network_written_);
          close();
          break;
        }
      }
      collect_output();
    }
    if (network_eof_ && to_inner_.empty() && BIO_ctrl_pending(in_) == 0) {
      close();  // the peer is gone and all it said was passed on
      break;
    }
  }
  // Stopped with bytes unread only for want of room: the full side's writable edge resumes it.
  pumping_ = false;
}

}  // namespace passthru::core
