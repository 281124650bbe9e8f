// MetricsEndpoint: the [metrics] listener. A small HTTP/1.1 server on a thread and libuv loop of
// its own, so that a scrape never runs on a worker's loop. It answers
//   GET /metrics  the Prometheus text exposition of every worker's counts (exposition.hpp);
//   GET /ready    200 while passthru accepts connections, 503 once it drains after a stop signal;
//   GET /live     200 while the process runs;
// anything else with 404 (or 405 for a method other than GET and HEAD). One request per
// connection (Connection: close); a request is at most 8 KiB and must arrive within 5 s; at most
// 64 scrapers at once, more are closed at once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "../config/endpoint.hpp"

namespace passthru::core {

class MetricsEndpoint {
 public:
  /// What /metrics answers, made on the endpoint's thread; whether /ready says yes.
  struct Answers {
    std::function<std::string()> metrics;
    std::function<bool()> ready;
  };

  /// Listens on `at` and starts its thread; nullptr with `error` set if it cannot listen.
  static std::unique_ptr<MetricsEndpoint> start(const Endpoint& at, Answers answers, std::string& error);
  ~MetricsEndpoint();  ///< stops the thread; every scrape still open is closed
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  /// The bound address ("127.0.0.1:9100", the real port when the config says 0).
  const std::string& name() const noexcept { return name_; }

  struct Loop;  ///< the thread's loop and handles (metrics_endpoint.cpp)

 private:
  MetricsEndpoint() = default;
  std::unique_ptr<Loop> loop_;
  std::string name_;
};

/// The answer to one request's head (its text up to the blank line), as bytes to send.
std::string http_answer(const std::string& head, const MetricsEndpoint::Answers& answers);

}  // namespace passthru::core
