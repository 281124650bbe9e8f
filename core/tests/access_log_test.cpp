// Unit tests of the access log's fields, in text and in JSON: facts escaped so that no byte a
// client or plugin gives can split the line or forge a field, an ambiguous fact as its flag, wire
// values left out, and every JSON line a valid object; and of when its held lines are written.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <limits.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "server/access_log.hpp"

using namespace passthru;
using namespace passthru::core;
namespace key = passthru::sdk::fact_key;

namespace {
AccessRecord record_with(const sdk::Facts& facts, const ProtocolTable* table = nullptr, const Action* action = nullptr) {
  AccessRecord r;
  r.decision.kind = action ? Decision::Kind::Rule : Decision::Kind::Pending;
  r.decision.protocol = table;
  r.decision.action = action;
  r.decision.facts = FactList(facts);
  r.bytes_up = 12;
  return r;
}

std::string text_of(const AccessRecord& r) {
  std::string out;
  append_access_fields(out, r, LogFormat::Text);
  return out;
}

nlohmann::json json_of(const AccessRecord& r) {
  std::string out = R"({"level":"info")";
  append_access_fields(out, r, LogFormat::Json);
  out += "}";
  CHECK(out.find('\n') == std::string::npos);
  return nlohmann::json::parse(out);  // throws, failing the test, if it is not valid JSON
}
}  // namespace

TEST_CASE("the log shows text escaped and an ambiguous fact as its flag, and leaves wire values out") {
  sdk::Facts facts;
  facts.add(key::kMethod, "GET");
  facts.add_ambiguous(key::kHost);
  facts.add_wire(key::kAlpnFirst, "h2");
  facts.add("note", "one two\r\n");
  AccessRecord r = record_with(facts);
  CHECK(text_of(r).find(R"( method=GET host=(ambiguous) note="one two\r\n" )") != std::string::npos);
  nlohmann::json j = json_of(r);
  CHECK(j["method"] == "GET");
  CHECK(j["host"].is_null());
  CHECK(j["note"] == "one two\r\n");
  CHECK(j["bytes_up"] == 12);
  CHECK_FALSE(j.contains(key::kAlpnFirst));
}

TEST_CASE("no byte of a fact or a rule key can end a line or forge a field, in either format") {
  sdk::Facts facts;
  facts.add("note", "x\r\nclient=192.0.2.66 end=done\"}\x01\xff");
  ProtocolTable table{"TLS", nullptr, {}};
  Action action;
  action.kind = ActionKind::Reject;
  action.rule = "SNI a\" end=done";
  AccessRecord r = record_with(facts, &table, &action);
  std::string text = text_of(r);
  CHECK(text.find('\n') == std::string::npos);
  CHECK(text.find(R"(rule="SNI a\" end=done")") != std::string::npos);
  CHECK(text.find(R"(note="x\r\nclient=192.0.2.66 end=done\"}\x01\xff")") != std::string::npos);
  nlohmann::json j = json_of(r);
  CHECK(j["rule"] == "SNI a\" end=done");
  CHECK(j["note"] == "x\r\nclient=192.0.2.66 end=done\"}\x01\xc3\xbf");  // the byte 0xFF as U+00FF
  CHECK(j["action"] == "REJECT");
  CHECK(j["end"] == "done");
}

namespace {
/// What the access log writes to stderr while the test holds it: a non-blocking pipe.
class CapturedStderr {
 public:
  CapturedStderr() {
    REQUIRE(pipe2(pipe_, O_NONBLOCK | O_CLOEXEC) == 0);
    saved_ = dup(STDERR_FILENO);
    dup2(pipe_[1], STDERR_FILENO);
  }
  ~CapturedStderr() {
    dup2(saved_, STDERR_FILENO);
    for (int fd : {saved_, pipe_[0], pipe_[1]}) close(fd);
  }
  /// The lines written since the last call.
  std::size_t lines() {
    char buffer[65536];
    ssize_t n = read(pipe_[0], buffer, sizeof buffer);
    return n > 0 ? static_cast<std::size_t>(std::count(buffer, buffer + n, '\n')) : 0;
  }

 private:
  int pipe_[2] = {-1, -1};
  int saved_ = -1;
};
}  // namespace

TEST_CASE("lines are held until the first has waited kHoldMs, or until they fill a pipe's atomic write") {
  auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::info);
  CapturedStderr stderr_pipe;
  AccessLog log;
  AccessRecord r = record_with({});
  CHECK(log.write_out_due(1000) == -1);  // nothing held: the loop may wait as long as it likes
  log.write(r);
  log.write(r);
  CHECK(log.write_out_due(1000) == AccessLog::kHoldMs);  // stamped in the turn they came in
  CHECK(log.write_out_due(1000 + AccessLog::kHoldMs - 1) == 1);
  CHECK(stderr_pipe.lines() == 0);
  CHECK(log.write_out_due(1000 + AccessLog::kHoldMs) == -1);
  CHECK(stderr_pipe.lines() == 2);

  // Past PIPE_BUF the lines held before go out in one write, and the newest waits.
  std::size_t lines = 0;
  while (stderr_pipe.lines() == 0 && lines < PIPE_BUF) {
    log.write(r);
    ++lines;
  }
  CHECK(lines > 2);
  CHECK(log.write_out_due(5000) == AccessLog::kHoldMs);  // the one left, held from now
  log.close();
  CHECK(stderr_pipe.lines() == 1);
  spdlog::set_level(level);
}
