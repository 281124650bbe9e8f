// mproxy-unpack: decodes an M-PROXY stream, one line of JSON per message:
//   {"kind": "data", "fields": [the header split on ","], "body_base64": "..."}
// and at a protocol error a last line {"error": "..."} and exit status 1.
//   mproxy-unpack [--chunks whole|bytes|overlap] INPUT.bin
// feeds the bytes whole, one at a time, or in chunks of uneven sizes that cross message
// boundaries (the three schemes of proxy-packer's own parser test); the output must not change.
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "base64.hpp"
#include "passthru/wire/mproxy_codec.hpp"

int main(int argc, char** argv) {
  std::string scheme = "whole";
  int arg = 1;
  if (argc == 4 && std::string(argv[1]) == "--chunks") {
    scheme = argv[2];
    arg = 3;
  }
  if (arg != argc - 1 || (scheme != "whole" && scheme != "bytes" && scheme != "overlap")) {
    std::cerr << "usage: mproxy-unpack [--chunks whole|bytes|overlap] INPUT.bin\n";
    return 2;
  }
  std::ifstream in(argv[arg], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  passthru::mproxy::Decoder decoder;
  auto print = [](passthru::mproxy::Message&& m) {
    nlohmann::ordered_json line;
    line["kind"] = passthru::mproxy::to_string(m.kind);
    line["fields"] = m.fields;
    line["body_base64"] = passthru::tools::base64_encode(m.body);
    std::cout << line.dump() << "\n";
  };
  std::size_t step = 1;
  for (std::size_t at = 0; at < bytes.size();) {
    std::size_t n = scheme == "whole" ? bytes.size() : scheme == "bytes" ? 1 : (step++ * 7) % 23 + 1;
    if (!decoder.feed(std::string_view(bytes).substr(at, n), print)) {
      std::cout << nlohmann::json{{"error", decoder.error()}}.dump() << "\n";
      return 1;
    }
    at += n;
  }
  if (!decoder.idle()) {
    std::cout << nlohmann::json{{"error", "the stream ends inside a message"}}.dump() << "\n";
    return 1;
  }
  return 0;
}
