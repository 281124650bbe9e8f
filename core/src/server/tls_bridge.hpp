// TlsBridge: the TLS layer of a tunnel's own link. It owns the encrypted TCP socket and one end
// of a socket pair; the Tunnel gets the other end and reads and writes (and splices) plain
// M-PROXY bytes there as on any socket, unaware of TLS. The bridge moves bytes between the two
// through OpenSSL with memory BIOs, so that bytes already read from the network (the
// ClientHello a detector saw) go in first. At most one 64 KiB buffer waits each way: while one
// side cannot take more, the other is not read. Either side's end (EOF, error, a failed
// handshake or verification) ends both: the Tunnel sees its socket close, as when the peer goes.
// Not for routed connections, which passthru never decrypts.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "../config/tls_context.hpp"
#include "socket.hpp"

struct ssl_st;
struct bio_st;

namespace passthru::core {

class EventSet;

class TlsBridge final : private Socket::Watcher {
 public:
  /// Bridges `network` (a connected socket): a client verifying `server_name` when it is not
  /// empty and `server` is false, else a server. `plain` gets the Tunnel's end (not yet
  /// watched). nullptr with `error` set if it cannot be made.
  static std::unique_ptr<TlsBridge> open(EventSet& events, Socket network, const TlsContext& context, bool server,
                                         const std::string& server_name, std::string_view already_read, Socket& plain,
                                         std::string& error);
  ~TlsBridge();
  TlsBridge(const TlsBridge&) = delete;
  TlsBridge& operator=(const TlsBridge&) = delete;

  /// Closes both sockets now.
  void close() noexcept;

 private:
  TlsBridge() = default;
  void on_ready(Socket& socket) override;
  void pump();
  /// Moves what OpenSSL wrote into its output BIO to to_network_.
  void collect_output();
  bool flush(Socket& socket, std::string& pending, std::size_t& written);
  void fail(const std::string& why);

  Socket network_;
  Socket inner_;  ///< our end of the socket pair
  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;   ///< network bytes for OpenSSL (owned by ssl_)
  bio_st* out_ = nullptr;  ///< OpenSSL's bytes for the network (owned by ssl_)
  std::string to_network_, to_inner_;
  std::size_t network_written_ = 0, inner_written_ = 0;
  bool server_ = false;
  bool network_eof_ = false;
  bool closed_ = false;
  bool pumping_ = false;
};

}  // namespace passthru::core
