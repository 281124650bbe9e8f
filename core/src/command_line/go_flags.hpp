// The command line as passthru (Go) documents it, `passthru -c=<configfile> -w=<worker_num>
// -t=<timeout>`, read by passthru's own parser: Go's flag package takes `-w=4`, `-w 4`, `--w=4`
// and `--w 4` alike, so these single-letter options are rewritten to `-w 4` before CLI11 reads
// them, and -t takes what Go's help promised (seconds) as well as what its flag type parsed (a Go
// duration such as "5s" or "1m30s"). What -w and -t then set is passthru's (main.cpp, README).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace passthru::core {

/// argv with every `-c=V`, `--c=V` and `--c V` (likewise w and t) written as `-c V`; the rest
/// as it was. The first element is the program's name.
std::vector<std::string> go_style_arguments(int argc, const char* const* argv);

/// -t's value in milliseconds: a number of seconds ("5", "2.5") or a Go duration (a sequence of
/// numbers with units ms, s, m, h: "500ms", "1m30s"), from 1 ms to one hour (timeout_ms's
/// range). nullopt with `why` said otherwise.
std::optional<std::uint32_t> parse_go_timeout(std::string_view text, std::string& why);

}  // namespace passthru::core
