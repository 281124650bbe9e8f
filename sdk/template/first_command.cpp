#include "first_command.hpp"

namespace redis {

using passthru::sdk::ByteReader;
using passthru::sdk::ByteSpan;
using passthru::sdk::Expect;
using Status = FirstCommand::Status;

namespace {

constexpr std::size_t kMaxCountDigits = 7;  // a command of up to 9,999,999 arguments
constexpr std::size_t kMaxLengthDigits = 2;  // a name of up to kMaxNameLength bytes

FirstCommand waiting(std::size_t total) { return {Status::NeedMore, total, {}}; }
FirstCommand refused(Status why) { return {why, 0, {}}; }

}  // namespace

FirstCommand parse_first_command(ByteSpan bytes) noexcept {
  ByteReader r(bytes);
  std::uint64_t count = 0;
  std::uint64_t length = 0;
  // The array's header: '*', its count (at least the name), CR LF.
  if (r.compare("*") == Expect::TooFew) return waiting(1);
  if (!r.read_literal("*")) return refused(Status::NotRedis);
  std::uint8_t next = 0;
  if (!r.peek_u8(next)) return waiting(bytes.size() + 1);
  if (next < '0' || next > '9') return refused(Status::NotRedis);
  if (!r.read_decimal(count, kMaxCountDigits) || count == 0) return refused(Status::Malformed);
  // Then the name, a bulk string: '$', its length, CR LF, the name, CR LF.
  switch (r.compare("\r\n$")) {
    case Expect::TooFew: return waiting(bytes.size() + 1);  // more digits, or the line's end
    case Expect::Differs: return refused(Status::Malformed);
    case Expect::Found: r.skip(3);
  }
  if (r.empty()) return waiting(bytes.size() + 1);
  if (!r.read_decimal(length, kMaxLengthDigits) || length == 0 || length > kMaxNameLength)
    return refused(Status::Malformed);
  switch (r.compare("\r\n")) {
    case Expect::TooFew: return waiting(bytes.size() + 1);
    case Expect::Differs: return refused(Status::Malformed);
    case Expect::Found: r.skip(2);
  }
  std::size_t end_of_name = r.position() + length + 2;  // the name and its CR LF: wait for all
  if (bytes.size() < end_of_name) return waiting(end_of_name);
  ByteSpan name;
  r.read_bytes(length, name);
  if (!r.read_literal("\r\n")) return refused(Status::Malformed);
  return {Status::Command, 0, passthru::sdk::as_chars(name)};
}

}  // namespace redis
