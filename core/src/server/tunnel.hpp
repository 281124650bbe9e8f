// Tunnel: a client connection that carries M-PROXY (the DEMUX action). It decodes the messages
// the client sends and keeps one TunnelStream per stream (keyed by "family,address,port"), each
// routed by the listener's rules as if that client had connected directly; it packs what the
// streams' backends answer back into the connection. Bounded both ways: when the connection
// cannot take more, every stream stops reading its backend; when a stream's backend cannot take
// more, the client is asked to `pause` it and, past a hard limit, the tunnel stops reading.
// A protocol error closes the tunnel; `end` and `error` close one stream.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "../config/config.hpp"
#include "close_reason.hpp"
#include "passthru/sdk/bytes.hpp"
#include "passthru/wire/mproxy_codec.hpp"

namespace passthru::core {

class Worker;
class TunnelStream;

class TunnelOwner {
 public:
  /// The tunnel is over (the client closed it, broke the protocol, or failed): close it.
  virtual void on_tunnel_finished(CloseReason reason, int status) = 0;
  /// After Tunnel::close(): every stream's handles are closed.
  virtual void on_tunnel_closed() = 0;

 protected:
  ~TunnelOwner() = default;
};

class Tunnel {
 public:
  /// `client` is the connection (owned by the caller); `demux` the rule that made it a tunnel;
  /// `mproxy_index` the MPROXY table's place in the listener (skipped when routing streams).
  Tunnel(TunnelOwner& owner, Worker& worker, const ServerConfig& server, const Action& demux,
         std::uint32_t mproxy_index, uv_tcp_t* client, const sockaddr* client_address);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  /// Decodes the bytes already read (the sniffed ones), then reads the client.
  void start(passthru::sdk::ByteSpan already_read);
  /// Closes every stream; on_tunnel_closed() follows once all are closed (possibly at once).
  void close();

  [[nodiscard]] std::uint64_t bytes_in() const noexcept { return bytes_in_; }
  [[nodiscard]] std::uint64_t bytes_out() const noexcept { return bytes_out_; }
  [[nodiscard]] std::uint64_t streams_opened() const noexcept { return streams_opened_; }
  [[nodiscard]] const std::string& protocol_error() const noexcept { return protocol_error_; }

  // For the streams.
  void send(passthru::mproxy::Kind kind, const passthru::mproxy::Meta& meta, std::string_view body);
  void stream_closed(TunnelStream* stream);
  /// A stream's backend queue crossed its hard limit (true) or drained (false).
  void hold_reading(bool hold);
  [[nodiscard]] bool output_full() const noexcept { return output_full_; }
  Worker& worker() noexcept { return worker_; }
  const ServerConfig& server() const noexcept { return server_; }
  const Action& demux() const noexcept { return demux_; }
  std::uint32_t mproxy_index() const noexcept { return mproxy_index_; }
  const sockaddr* client_address() const noexcept { return client_address_; }

 private:
  struct Out;
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);
  void received(std::string_view bytes);
  void dispatch(passthru::mproxy::Message&& message);
  void update_reading();
  void bury();
  void maybe_closed();

  TunnelOwner& owner_;
  Worker& worker_;
  const ServerConfig& server_;
  const Action& demux_;
  std::uint32_t mproxy_index_;
  uv_tcp_t* client_;
  const sockaddr* client_address_;
  passthru::mproxy::Decoder decoder_;
  std::unordered_map<std::string, std::unique_ptr<TunnelStream>> streams_;
  std::vector<std::unique_ptr<TunnelStream>> closed_;  ///< deleted only between callbacks
  std::size_t output_queued_ = 0;  ///< bytes packed for the client and not yet written
  bool output_full_ = false;
  int holds_ = 0;  ///< streams whose backend queue is over its hard limit
  bool reading_ = false;
  bool finished_ = false;  ///< told the owner it is over
  bool closing_ = false;
  bool closed_told_ = false;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::uint64_t streams_opened_ = 0;
  std::string protocol_error_;
};

}  // namespace passthru::core
