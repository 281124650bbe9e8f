// Unit tests of the command line as passthru (Go) documented it: -c=FILE, --w 4, -t=5s.
#include <doctest/doctest.h>

#include "command_line/go_flags.hpp"

using namespace passthru::core;

namespace {

std::vector<std::string> rewrite(std::vector<const char*> argv) {
  return go_style_arguments(static_cast<int>(argv.size()), argv.data());
}

std::optional<std::uint32_t> timeout(std::string_view text) {
  std::string why;
  return parse_go_timeout(text, why);
}

}  // namespace

TEST_CASE("Go's flag forms become the one CLI11 reads; other arguments stay as they are") {
  using V = std::vector<std::string>;
  CHECK(rewrite({"passthru", "-c=go.json", "-w=4", "-t=5"}) == V{"passthru", "-c", "go.json", "-w", "4", "-t", "5"});
  CHECK(rewrite({"passthru", "--c", "go.json", "--w=0"}) == V{"passthru", "-c", "go.json", "-w", "0"});
  CHECK(rewrite({"passthru", "-c", "a=b.json"}) == V{"passthru", "-c", "a=b.json"});
  CHECK(rewrite({"passthru", "--check", "--config=x.toml", "-l", "debug", "-c=x=y"}) ==
        V{"passthru", "--check", "--config=x.toml", "-l", "debug", "-c", "x=y"});
  CHECK(rewrite({"-c=not-a-flag-in-argv0"}) == V{"-c=not-a-flag-in-argv0"});
}

TEST_CASE("-t takes seconds as Go's help said, and Go durations as its flag parsed them") {
  CHECK(timeout("5") == 5000u);
  CHECK(timeout("2.5") == 2500u);
  CHECK(timeout("5s") == 5000u);
  CHECK(timeout("500ms") == 500u);
  CHECK(timeout("1m30s") == 90'000u);
  CHECK(timeout("1h") == 3'600'000u);
  CHECK(timeout("0.001") == 1u);
}

TEST_CASE("-t refuses what is not a time, and times out of timeout_ms's range") {
  for (const char* bad : {"", "0", "-5", "+5", "5x", "s", "1h1s", "inf", "nan", "0x10", "5 s", "5s3", "0.0001"}) {
    CAPTURE(bad);
    CHECK_FALSE(timeout(bad));
  }
}
