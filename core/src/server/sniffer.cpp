#include "sniffer.hpp"

#include <cerrno>
#include <utility>

namespace passthru::core {

void Sniffer::start(Socket client, const sockaddr* peer) {
  client_ = std::move(client);
  peer_ = peer;
  deadline_->start(server_->timeout_ms, *this);
  // A client usually sends its first bytes right after connecting, and by the time passthru
  // accepts, they are often here already: reading now spares the socket a wait for an edge.
  client_.assume_readable();
  read_available();
  if (decided_ || !client_.is_open()) return;
  if (int status = client_.watch(*this); status < 0) {
    owner_->on_sniff_failed(CloseReason::ClientError, status);
  }
}

void Sniffer::on_ready(Socket&) {
  if (!decided_) read_available();  // after the decision its edges wait, on record, for the next stage
}

void Sniffer::read_available() {
  while (!decided_ && client_.may_read() && !client_eof_) {
    if (bytes_.full()) break;  // decided below, at the latest
    uv_buf_t space = bytes_.free_space();
    ssize_t n = client_.read(space.base, space.len);
    if (n == -EAGAIN) {
      if (bytes_.size() == 0) bytes_.release();  // nothing yet: hold no buffer while the client is silent
      return;
    }
    if (n < 0) {
      deadline_->stop();
      owner_->on_sniff_failed(client_failure(n), static_cast<int>(n));
      return;
    }
    if (n == 0) client_eof_ = true;
    else bytes_.commit(static_cast<std::size_t>(n));
    Decision decision = detection_.advance(bytes_.bytes(), client_eof_, bytes_.full(), peer_);
    if (decision.kind != Decision::Kind::Pending) decide(std::move(decision));
  }
}

void Sniffer::on_deadline() {
  if (!decided_) decide(detection_.on_timeout());
}

void Sniffer::decide(Decision decision) {
  decided_ = true;
  deadline_->stop();
  owner_->on_decided(std::move(decision));
}

void Sniffer::close() noexcept {
  client_.close();
  bytes_.release();
}

}  // namespace passthru::core
