// Fuzz inputs as a list of reads, as TCP might deliver a stream: each read is one length byte,
// then that many bytes (fewer at the end of the input). Shared by every plugin's fuzz target.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace passthru::testing {

/// Appends each read to `stream` and calls on_read(stream) after each, as the host polls.
template <typename OnRead>
void replay_reads(const std::uint8_t* data, std::size_t size, std::vector<std::uint8_t>& stream, OnRead&& on_read) {
  for (std::size_t at = 0; at < size;) {
    std::size_t length = data[at];
    ++at;
    std::size_t n = std::min(length, size - at);
    stream.insert(stream.end(), data + at, data + at + n);
    at += n;
    on_read(stream);
  }
}

}  // namespace passthru::testing
