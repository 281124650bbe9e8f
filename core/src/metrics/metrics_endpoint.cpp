#include "metrics_endpoint.hpp"

#include <uv.h>

#include <thread>

namespace passthru::core {

namespace {
constexpr std::size_t kMostRequestBytes = 8192;
constexpr std::uint64_t kRequestTimeoutMs = 5000;
constexpr int kMostScrapes = 64;

std::string response(const char* status, const char* content_type, const std::string& body, bool head_only) {
  std::string out = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + content_type +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

uv_handle_t* handle(void* h) { return static_cast<uv_handle_t*>(h); }
}  // namespace

std::string http_answer(const std::string& head, const MetricsEndpoint::Answers& answers) {
  // "GET /metrics HTTP/1.1": the method, the target (a query string is ignored), the version.
  std::size_t method_end = head.find(' ');
  std::size_t target_end = method_end == std::string::npos ? method_end : head.find(' ', method_end + 1);
  std::size_t line_end = head.find("\r\n");
  if (target_end == std::string::npos || target_end > line_end || head.compare(target_end + 1, 5, "HTTP/") != 0)
    return response("400 Bad Request", "text/plain", "bad request\n", false);
  std::string method = head.substr(0, method_end);
  std::string target = head.substr(method_end + 1, target_end - method_end - 1);
  target = target.substr(0, target.find('?'));
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) return response("405 Method Not Allowed", "text/plain", "GET only\n", false);
  if (target == "/metrics")
    return response("200 OK", "text/plain; version=0.0.4; charset=utf-8", answers.metrics(), head_only);
  if (target == "/ready")
    return answers.ready() ? response("200 OK", "text/plain", "ready\n", head_only)
                           : response("503 Service Unavailable", "text/plain", "draining\n", head_only);
  if (target == "/live") return response("200 OK", "text/plain", "live\n", head_only);
  return response("404 Not Found", "text/plain", "not found: try /metrics, /ready or /live\n", head_only);
}

struct MetricsEndpoint::Loop {
  uv_loop_t loop{};
  uv_tcp_t server{};
  uv_async_t stop{};
  std::thread thread;
  Answers answers;
  int scrapes = 0;
};

namespace {

/// One scraper's connection: its request, then the answer, then the close.
struct Scrape {
  uv_tcp_t tcp{};
  uv_timer_t timeout{};
  uv_write_t write{};
  uv_shutdown_t shutdown{};
  int handles_open = 2;
  std::string request;
  std::string answer;
  char buffer[2048];
  MetricsEndpoint::Answers* answers = nullptr;
  int* scrapes = nullptr;

  void close() {
    if (uv_is_closing(handle(&tcp))) return;
    uv_close(handle(&tcp), on_closed);
    uv_close(handle(&timeout), on_closed);
  }
  static void on_closed(uv_handle_t* h) {
    auto* self = static_cast<Scrape*>(h->data);
    if (--self->handles_open > 0) return;
    --*self->scrapes;
    delete self;
  }
  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<Scrape*>(h->data);
    *buf = uv_buf_init(self->buffer, sizeof self->buffer);
  }
  static void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
    auto* self = static_cast<Scrape*>(stream->data);
    if (n < 0) return self->close();
    self->request.append(buf->base, static_cast<std::size_t>(n));
    std::size_t end = self->request.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (self->request.size() > kMostRequestBytes) self->close();
      return;
    }
    uv_read_stop(stream);
    self->answer = http_answer(self->request.substr(0, end + 2), *self->answers);
    uv_buf_t out = uv_buf_init(self->answer.data(), static_cast<unsigned>(self->answer.size()));
    self->write.data = self;
    if (uv_write(&self->write, stream, &out, 1, on_written) < 0) self->close();
  }
  static void on_written(uv_write_t* req, int status) {
    auto* self = static_cast<Scrape*>(req->data);
    if (status < 0 || uv_is_closing(handle(&self->tcp))) return self->close();
    // A FIN after the answer, then the close: closing with the answer unsent could reset it.
    self->shutdown.data = self;
    if (uv_shutdown(&self->shutdown, reinterpret_cast<uv_stream_t*>(&self->tcp), on_shut) < 0) self->close();
  }
  static void on_shut(uv_shutdown_t* req, int) { static_cast<Scrape*>(req->data)->close(); }
  static void on_timeout(uv_timer_t* timer) { static_cast<Scrape*>(timer->data)->close(); }
};

void on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* loop = static_cast<MetricsEndpoint::Loop*>(server->data);
  auto* scrape = new Scrape;
  scrape->answers = &loop->answers;
  scrape->scrapes = &loop->scrapes;
  ++loop->scrapes;
  uv_tcp_init(&loop->loop, &scrape->tcp);
  uv_timer_init(&loop->loop, &scrape->timeout);
  scrape->tcp.data = scrape->timeout.data = scrape;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&scrape->tcp)) < 0 || loop->scrapes > kMostScrapes)
    return scrape->close();
  uv_timer_start(&scrape->timeout, Scrape::on_timeout, kRequestTimeoutMs, 0);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&scrape->tcp), Scrape::on_alloc, Scrape::on_read);
}

void on_stop(uv_async_t* async) {
  // Everything closes (the listener, the scrapes still open, this handle), and the loop returns.
  uv_walk(async->loop, [](uv_handle_t* h, void*) {
    if (uv_is_closing(h)) return;
    if (h->type == UV_TCP && h->data && h != handle(&static_cast<MetricsEndpoint::Loop*>(h->loop->data)->server))
      static_cast<Scrape*>(h->data)->close();
    else if (h->type != UV_TIMER)
      uv_close(h, nullptr);
  }, nullptr);
}

}  // namespace

std::unique_ptr<MetricsEndpoint> MetricsEndpoint::start(const Endpoint& at, Answers answers, std::string& error) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint);
  auto loop = std::make_unique<Loop>();
  loop->answers = std::move(answers);
  if (int status = uv_loop_init(&loop->loop); status < 0) {
    error = uv_strerror(status);
    return nullptr;
  }
  loop->loop.data = loop.get();
  uv_tcp_init(&loop->loop, &loop->server);
  loop->server.data = loop.get();
  uv_async_init(&loop->loop, &loop->stop, on_stop);
  sockaddr_storage address = at.address;
  auto* bind_to = reinterpret_cast<const sockaddr*>(&address);
  int status = uv_tcp_bind(&loop->server, bind_to, 0);
  if (status == 0) status = uv_listen(reinterpret_cast<uv_stream_t*>(&loop->server), 64, on_connection);
  if (status < 0) {
    error = uv_strerror(status);
    uv_close(handle(&loop->server), nullptr);
    uv_close(handle(&loop->stop), nullptr);
    uv_run(&loop->loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop->loop);
    return nullptr;
  }
  sockaddr_storage bound{};
  int length = sizeof bound;
  uv_tcp_getsockname(&loop->server, reinterpret_cast<sockaddr*>(&bound), &length);
  endpoint->name_ = format_address(reinterpret_cast<const sockaddr*>(&bound));
  loop->thread = std::thread([raw = loop.get()] { uv_run(&raw->loop, UV_RUN_DEFAULT); });
  endpoint->loop_ = std::move(loop);
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  if (!loop_) return;
  uv_async_send(&loop_->stop);
  loop_->thread.join();
  uv_loop_close(&loop_->loop);
}

}  // namespace passthru::core
