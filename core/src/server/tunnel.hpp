// Tunnel: a client connection that carries M-PROXY (the DEMUX action). It owns the client's
// socket from the decision on, decodes the messages the client sends, and keeps one
// TunnelStream per stream (keyed by "family,address,port"), each routed by the listener's rules
// as if that client had connected directly; it packs what the streams' backends answer back
// into the connection. Bulk bodies are spliced both ways, small ones copied, as a plain relay
// does. Bounded both ways: when the connection cannot take more, every stream
// stops reading its backend; when a stream's backend cannot take more, the client is asked to
// `pause` it and, past a hard limit, the tunnel stops reading. A protocol error ends the
// tunnel; `end` and `error` end one stream. Streams hold the owning connection's Lifeline, so
// the connection outlives every stream it carried.
//
// The same class is the dialling end of a tunnel (TunnelLink, for MUX): there the socket is
// the one it dialled, its owner is the link, and besides the streams the far end opens it
// carries local ones (open_local), each a client connection of this side.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "../config/config.hpp"
#include "close_reason.hpp"
#include "lifeline.hpp"
#include "passthru/sdk/bytes.hpp"
#include "passthru/wire/mproxy_codec.hpp"
#include "pipe_pool.hpp"
#include "socket.hpp"
#include "tunnel_stream.hpp"

namespace passthru::core {

class Worker;
class TunnelStream;
class ListenerMetrics;
struct ListenerRules;

class Tunnel final : private Socket::Watcher {
 public:
  class Owner {
   public:
    /// The tunnel is over (the client closed it, broke the protocol, or failed): end it.
    virtual void on_tunnel_finished(CloseReason why, int error) = 0;
    /// The last open stream ended (a link times its idle close from here).
    virtual void on_tunnel_idle() {}

   protected:
    ~Owner() = default;
  };

  /// No MPROXY table routes its streams (a dialled tunnel's).
  static constexpr std::uint32_t kNoMproxyTable = 0xFFFFFFFF;

  /// `demux`: the rule that made it a tunnel; `mproxy_index`: the MPROXY table's place in the
  /// listener (skipped when routing streams), or kNoMproxyTable; `lifeline`: the owning connection's.
  Tunnel(Owner& owner, Worker& worker, ListenerRules& rules, const Action& demux, std::uint32_t mproxy_index,
         const IpAddress& client_address, Lifeline& lifeline);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  /// Takes the client's socket, decodes the bytes already read (the sniffed ones), then reads on.
  void start(Socket client, passthru::sdk::ByteSpan already_read);
  /// Closes the client's socket and ends every stream (with the reason the tunnel ended); the
  /// streams go once their handles have closed.
  void close(CloseReason why);
  /// Opens a local stream for `owner`'s client (MUX): nullptr, and nothing sent, if it cannot be
  /// (the tunnel is closing, has max_streams open, or one with its id, or `meta` cannot be packed).
  TunnelStream* open_local(passthru::mproxy::Meta meta, Socket client, std::string_view first, const Decision& decision,
                           TunnelStream::LocalOwner& owner);
  [[nodiscard]] std::size_t open_stream_count() const noexcept { return streams_.size(); }
  /// With a DEMUX rule's tokens_file: whether the first control message presented a token
  /// granted for the tunnel it named (always true without one).
  [[nodiscard]] bool authenticated() const noexcept { return authenticated_; }
  /// The grant it authenticated with, or nullptr.
  [[nodiscard]] const TokenGrant* grant() const noexcept { return grant_; }
  /// Answers with a control error `[0,{"code":"E_AUTH",...}]` and ends the tunnel (end=rejected).
  void refuse(const std::string& why);

  [[nodiscard]] std::uint64_t bytes_in() const noexcept { return bytes_in_; }
  [[nodiscard]] std::uint64_t bytes_out() const noexcept { return bytes_out_; }
  [[nodiscard]] std::uint64_t streams_opened() const noexcept { return streams_opened_; }
  [[nodiscard]] const std::string& protocol_error() const noexcept { return protocol_error_; }

  // For the streams.
  void send(passthru::mproxy::Kind kind, const passthru::mproxy::Meta& meta, std::string_view body);
  /// Sends a data message whose `length` bytes of body wait in `pipe` (spliced from the
  /// stream's backend); the pipe is the tunnel's until written, then the stream is told
  /// (TunnelStream::piped_sent). False if the header cannot be packed: the pipe stays the caller's.
  bool send_piped(const passthru::mproxy::Meta& meta, KernelPipe* pipe, std::size_t length);
  /// The stream ended: it stays until its handles have closed (stream_released).
  void stream_ended(TunnelStream* stream);
  /// The stream's handles are closed: it is deleted. The tunnel may be gone when this returns.
  void stream_released(TunnelStream* stream);
  /// A stream's backend queue crossed its hard limit (true) or drained (false).
  void hold_reading(bool hold);
  Worker& worker() noexcept { return worker_; }
  const ServerConfig& server() const noexcept { return server_; }
  ListenerMetrics& metrics() noexcept { return metrics_; }
  const Action& demux() const noexcept { return demux_; }
  std::uint32_t mproxy_index() const noexcept { return mproxy_index_; }
  const IpAddress& client_address() const noexcept { return client_address_; }
  const std::string& listener_name() const noexcept { return listener_name_; }

 private:
  void on_ready(Socket& socket) override;
  void read_available();
  /// Splices the rest of a bulk data body straight to its stream's backend, when one is being
  /// read and the stream can take it. Returns false to read through the decoder instead.
  bool splice_body();
  void flush_output();
  /// Writes what can be written now; returns the streams whose pipe was emptied.
  std::vector<std::string> write_output();
  void received(std::string_view bytes);
  void dispatch(passthru::mproxy::Message&& message);
  /// The first message of a tunnel that must authenticate.
  void authenticate(const passthru::mproxy::Message& message);
  void finish(CloseReason why, int error);
  void throttle_streams(bool full);
  /// The streams open now: telling one of them something may end it, or another, which takes
  /// it out of streams_, so callers walk this copy (an ended stream lives until released).
  std::vector<TunnelStream*> open_streams() const;

  Owner& owner_;
  Worker& worker_;
  const ServerConfig& server_;
  ListenerMetrics& metrics_;
  const Action& demux_;
  std::uint32_t mproxy_index_;
  const std::string& listener_name_;
  IpAddress client_address_;
  Lifeline& lifeline_;
  Socket client_;
  passthru::mproxy::Decoder decoder_;
  std::unordered_map<std::string, std::unique_ptr<TunnelStream>> streams_;
  std::unordered_map<TunnelStream*, std::unique_ptr<TunnelStream>> ended_;  ///< until released
  /// A message on its way to the client: whole in `bytes`, or its header there and its body in
  /// a pipe, to be spliced once the header is out.
  struct Outgoing {
    std::string bytes;
    KernelPipe* pipe = nullptr;
    std::size_t piped = 0;  ///< body bytes still in the pipe
    std::string stream;     ///< whose body it is (told when the pipe is empty)
  };
  std::deque<Outgoing> output_;        ///< not yet written to the client, in order
  std::size_t output_written_ = 0;     ///< bytes of output_.front().bytes already written
  bool flushing_ = false;              ///< in flush_output(): a send only queues
  bool bulk_bodies_ = false;           ///< the last data body was long enough to splice
  std::size_t output_queued_ = 0;      ///< bytes in output_ not yet written
  bool output_full_ = false;
  int holds_ = 0;  ///< streams whose backend queue is over its hard limit
  bool finished_ = false;  ///< told the owner it is over
  bool closing_ = false;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::uint64_t streams_opened_ = 0;
  std::string protocol_error_;
  bool authenticated_ = true;
  bool registered_ = false;  ///< offered to the worker's MUX rules as a reverse tunnel
  const TokenGrant* grant_ = nullptr;
};

}  // namespace passthru::core
