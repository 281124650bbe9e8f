// Unit tests of CRC32C: the check value of its definition, and a sum carried over several parts
// (the PROXY parser sums a header around its own checksum field that way).
#include <doctest/doctest.h>

#include <string_view>

#include "passthru/wire/crc32c.hpp"

using namespace passthru::wire;

namespace {

const std::uint8_t* bytes_of(std::string_view text) { return reinterpret_cast<const std::uint8_t*>(text.data()); }

}  // namespace

TEST_CASE("CRC32C gives the check value of its definition") {
  CHECK(crc32c(bytes_of("123456789"), 9) == 0xE3069283u);
}

TEST_CASE("CRC32C of nothing is zero") { CHECK(crc32c(nullptr, 0) == 0u); }

TEST_CASE("CRC32C carried over parts equals CRC32C of the whole") {
  std::string_view text = "123456789";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    std::uint32_t state = crc32c_update(crc32c_begin(), bytes_of(text), cut);
    state = crc32c_update(state, bytes_of(text) + cut, text.size() - cut);
    CHECK(crc32c_end(state) == 0xE3069283u);
  }
}
