// TunnelStream: one client stream inside an M-PROXY tunnel, routed as if that client had
// connected directly: by the MPROXY table's NAME/SERVICE/SERVICEPORT rules on its metadata, else
// by the listener's other protocols sniffing its first data (TLS SNI, HTTP Host, SSH…), else by
// the server CATCHALL. It connects to the chosen backend with a Connector, then owns the
// backend's socket and relays both ways: the tunnel's data messages to the backend, the
// backend's bytes back as data messages. Like a plain relay, the backend's bytes are copied
// while they come in small reads, and spliced once they come in bulk: read into a kernel pipe,
// whose bytes the tunnel splices out after the message header; one pipe in flight at a time.
// Once connected it keeps its rule's timeouts with a RelayClock and its own Deadline, as a
// plain relay does; the client's `end` for the stream starts the half-closed limit (M-PROXY has
// no half-close the other way: the backend's EOF ends the stream). It logs one access line when
// it ends and is deleted by its tunnel once its Lifeline lets it go, at the end of a turn.
//
// A local stream (MUX, the other end of the same tunnel) is the reverse: it was opened by this
// side for a client connection whose socket it owns in place of a backend's, sends `connection`
// and the client's first bytes, and reports its end to its LocalOwner (the client's Connection,
// which logs it) instead of logging it. The client's EOF sends `end` and waits for the far
// end's `end` (which closes it) so that the answer still comes back.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "../router/detection.hpp"
#include "access_log.hpp"
#include "close_reason.hpp"
#include "connector.hpp"
#include "deadline.hpp"
#include "lifeline.hpp"
#include "passthru/wire/mproxy_codec.hpp"
#include "pipe_pool.hpp"
#include "relay_clock.hpp"
#include "socket.hpp"

namespace passthru::core {

class Tunnel;

class TunnelStream final : private Lifeline::Owner, private Connector::Owner, private Socket::Watcher,
                           private Deadline::Expiry {
 public:
  /// Told when a local stream ends: why, and the bytes from its client (up) and to it (down).
  class LocalOwner {
   public:
    virtual void on_stream_finished(CloseReason why, int error, std::uint64_t up, std::uint64_t down) = 0;

   protected:
    ~LocalOwner() = default;
  };

  TunnelStream(Tunnel& tunnel, passthru::mproxy::Meta meta);
  /// A local stream, for `owner`'s client.
  TunnelStream(Tunnel& tunnel, passthru::mproxy::Meta meta, LocalOwner& owner);
  TunnelStream(const TunnelStream&) = delete;
  TunnelStream& operator=(const TunnelStream&) = delete;

  /// Chooses a rule from the stream's metadata, if the MPROXY table has one for it.
  void start();
  /// A local stream: announces itself (`connection`), sends `first` (the sniffed bytes), then
  /// relays `client` as it would a backend, timed by `decision`'s action.
  void start_local(Socket client, std::string_view first, const Decision& decision);
  /// The tunnel's key for this stream: "family,address,port".
  [[nodiscard]] const std::string& id() const noexcept { return record_.stream; }
  /// What the tunnel's client sent for this stream.
  void data(std::string&& body);
  void peer_end();
  void peer_error();
  void peer_pause(bool pause);
  /// The tunnel's connection is full (true) or has room again (false).
  void throttle(bool full);
  enum class SpliceReadiness : std::uint8_t {
    Now,    ///< connected, nothing queued before it, a pipe to be had
    Later,  ///< its last spliced bytes still wait for the backend: it has stopped the tunnel's
            ///< reading until they are out (nothing else can be read before this body)
    Never,  ///< read the body through the decoder
  };
  /// Whether a data body for this stream may be spliced to its backend.
  SpliceReadiness splice_readiness();
  /// Splices up to `most` bytes of a data body from the tunnel's socket into the backend,
  /// through a pipe. Returns what splice(2) from `tunnel` said: bytes taken, 0 at the tunnel's
  /// EOF, or a negated errno (the tunnel's to handle). Bytes the backend cannot take yet stay
  /// in the pipe, counted against the stream's buffer like copied ones.
  ssize_t take_spliced(Socket& tunnel, std::size_t most);
  /// The pipe given to the tunnel with the last bytes read is empty again: read on.
  void piped_sent();
  /// Ends the stream now; reset the backend if `reset`.
  void close(CloseReason why, bool reset);

 private:
  enum class Stage : std::uint8_t { Detecting, Connecting, Open, Ended };

  void decide(const Decision& decision);
  void on_connected(Socket backend) override;
  void on_connect_failed(CloseReason why, int error) override;
  void on_ready(Socket& socket) override;
  void on_released() override;
  void on_deadline() override;
  /// Arms the Deadline for the nearest limit, or ends the stream if one has passed.
  void check_timeouts();
  void queue_for_backend(std::string&& bytes);
  void flush_to_backend();
  /// Past max_stream_buffer bytes queued, asks the client to pause this stream; past four
  /// times that (it did not), stops reading the tunnel until the stream drains.
  void limit_queue();
  /// Stops the tunnel's reading until up_pipe_ is written, and asks the client to pause.
  void wait_for_pipe();
  void read_backend();
  void fail(CloseReason why, int error, const char* code);
  /// Reads into a pipe once in bulk; false when no pipe was to be had (read into a buffer then).
  bool splice_backend();
  [[nodiscard]] bool wants_to_read() const noexcept { return !peer_paused_ && !throttled_ && !piping_ && !local_eof_; }
  /// The socket it relays (the backend's, or a local stream's client) sent its EOF.
  void socket_finished();

  Tunnel& tunnel_;
  passthru::mproxy::Meta meta_;
  Stage stage_ = Stage::Detecting;
  AccessRecord record_;
  std::chrono::steady_clock::time_point connecting_since_;  ///< for the backend connect time
  Lifeline lifeline_;
  Deadline deadline_;
  RelayClock clock_;
  Connector connector_;
  Socket backend_;
  Endpoint stream_target_;  ///< to_addr = "STREAM": the stream's name:serviceport
  Detection detection_;
  std::string pending_;                ///< bytes received before the backend is connected
  std::deque<std::string> to_backend_;  ///< bytes on their way to the backend
  std::size_t written_ = 0;            ///< of to_backend_.front()
  std::size_t queued_ = 0;             ///< bytes in up_pipe_ and to_backend_ not yet written
  bool peer_ended_ = false;
  bool peer_paused_ = false;
  bool throttled_ = false;
  bool asked_pause_ = false;  ///< we sent `pause` for this stream
  bool holding_ = false;      ///< we asked the tunnel to stop reading
  bool backend_shut_ = false;
  bool bulk_ = false;    ///< a read filled the buffer: the backend's bytes go through a pipe from now on
  bool piping_ = false;  ///< the tunnel still holds a pipe of this stream's bytes
  KernelPipe* up_pipe_ = nullptr;  ///< a data body on its way to the backend, spliced
  std::size_t up_piped_ = 0;       ///< bytes in up_pipe_ not yet written (counted in queued_ too)
  bool holding_for_pipe_ = false;  ///< the tunnel stops reading until up_pipe_ is written
  LocalOwner* local_ = nullptr;    ///< a local stream's (MUX) client connection
  bool local_eof_ = false;         ///< a local stream's client finished sending: `end` was sent
};

}  // namespace passthru::core
