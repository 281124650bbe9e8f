// Sniffer: the first stage of a client connection. It owns the client's socket and its ConnBuf
// while the detectors decide: it reads what the client sends (at once when accepted, since most
// clients have sent their first bytes by then; otherwise at each readable edge), asks Detection,
// and arms the detection deadline. It ends with one Decision, after which its owner takes the
// socket and the bytes for the next stage (or closes them). It writes nothing to the client.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "../router/detection.hpp"
#include "close_reason.hpp"
#include "conn_buf.hpp"
#include "deadline.hpp"
#include "socket.hpp"

namespace passthru::core {

class Sniffer final : private Socket::Watcher, private Deadline::Expiry {
 public:
  class Owner {
   public:
    /// Detection decided (a rule, or the server CATCHALL, or nothing to apply); the decision,
    /// and the facts it holds, are the owner's.
    virtual void on_decided(Decision decision) = 0;
    /// Reading the client failed before a decision; its socket is still open.
    virtual void on_sniff_failed(CloseReason why, int error) = 0;

   protected:
    ~Owner() = default;
  };

  Sniffer(Owner& owner, const ServerConfig& server, BufferPool& sniff_pool, Deadline& deadline) noexcept
      : owner_(&owner), server_(&server), bytes_(sniff_pool), detection_(server), deadline_(&deadline) {}
  Sniffer(const Sniffer&) = delete;
  Sniffer& operator=(const Sniffer&) = delete;

  /// Takes the accepted client and starts reading. `peer` (the TCP peer, for FROM rules) must
  /// outlive the sniffer. The owner may hear of the decision before this returns.
  void start(Socket client, const sockaddr* peer);

  /// After the decision: the client's socket and what it sent, for the next stage.
  Socket take_client() noexcept { return std::move(client_); }
  ConnBuf take_bytes() noexcept { return std::move(bytes_); }
  [[nodiscard]] bool client_finished() const noexcept { return client_eof_; }
  /// How many bytes the client sent so far (before take_bytes()).
  [[nodiscard]] std::size_t bytes_read() const noexcept { return bytes_.size(); }
  /// What UNWRAP rules stripped (the bytes to skip, the addresses and facts they carried).
  [[nodiscard]] const Unwrapped& unwrapped() const noexcept { return detection_.unwrapped(); }
  /// Closes the client (it was rejected, or passthru is stopping) and drops its bytes.
  void close() noexcept;

 private:
  void on_ready(Socket& socket) override;
  void on_deadline() override;
  void read_available();
  void decide(Decision decision);

  Owner* owner_;
  const ServerConfig* server_;
  Socket client_;
  ConnBuf bytes_;
  Detection detection_;
  Deadline* deadline_;
  const sockaddr* peer_ = nullptr;
  bool client_eof_ = false;
  bool decided_ = false;
};

}  // namespace passthru::core
