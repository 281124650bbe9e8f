// mproxy-pack: packs M-PROXY messages, for comparing passthru's codec with proxy-packer's.
//   mproxy-pack INPUT.json OUTPUT.bin
//       proxy-packer's test driver contract (its test/pack.js): INPUT.json holds {"version",
//       "address": {family, address, port, service, serviceport}, "filepath"}; the file's bytes
//       become one data message, named by their TLS SNI or HTTP Host, packed as pack() does.
//   mproxy-pack --messages MESSAGES.jsonl OUTPUT.bin
//       one message a line: {"kind", "meta": {family, address, port, service, serviceport, name},
//       "body_base64", "oldways"}.
// Exit status 1 with a message on stderr when a message cannot be packed.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <regex>

#include "base64.hpp"
#include "client_hello.hpp"
#include "passthru/wire/mproxy_codec.hpp"

namespace {

using passthru::mproxy::Kind;
using passthru::mproxy::Meta;
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// A JSON value as proxy-packer would print it in a header: numbers in decimal, strings as is.
std::string text_of(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  return value.dump();
}

/// The name the reference driver gives the data: its SNI, else the lower-cased Host without port.
std::string name_of(const std::string& data) {
  auto parse = passthru::tls::parse_client_hello({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()},
                                                 true, data.size() + 1);
  if (parse.status == passthru::tls::HelloStatus::Complete && parse.hello.sni_length) return std::string(parse.hello.sni());
  std::smatch m;
  static const std::regex host("(?:^|[\\r\\n])Host: ([^\\r\\n]+)", std::regex::icase);
  if (!std::regex_search(data, m, host)) return "";
  std::string name = m[1].str();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name.substr(0, name.find(':'));
}

Kind kind_of(const std::string& word) {
  for (Kind k : {Kind::Data, Kind::Connection, Kind::Control, Kind::End, Kind::Error, Kind::Pause, Kind::Resume})
    if (passthru::mproxy::to_string(k) == word) return k;
  throw std::runtime_error("unknown message kind '" + word + "'");
}

std::string pack_or_throw(Kind kind, const Meta& meta, const std::string& body, bool oldways) {
  std::string error;
  auto out = passthru::mproxy::pack(kind, meta, body, oldways, error);
  if (!out) throw std::runtime_error(error);
  return *out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string out;
    fs::path output;
    if (argc == 4 && std::string(argv[1]) == "--messages") {
      std::ifstream lines(argv[2]);
      for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line);
        const auto& m = j.at("meta");
        Meta meta{text_of(m.value("family", nlohmann::json())), text_of(m.value("address", nlohmann::json())),
                  text_of(m.value("port", nlohmann::json())), text_of(m.value("service", nlohmann::json())),
                  text_of(m.value("serviceport", nlohmann::json())), text_of(m.value("name", nlohmann::json()))};
        auto body = passthru::tools::base64_decode(j.value("body_base64", ""));
        if (!body) throw std::runtime_error("bad base64 in " + line);
        out += pack_or_throw(kind_of(j.at("kind")), meta, *body, j.value("oldways", false));
      }
      output = argv[3];
    } else if (argc == 3) {
      fs::path input = argv[1];
      auto j = nlohmann::json::parse(read_file(input));
      const auto& a = j.at("address");
      std::string data = read_file(input.parent_path() / j.at("filepath").get<std::string>());
      Meta meta{text_of(a.value("family", nlohmann::json())), text_of(a.value("address", nlohmann::json())),
                text_of(a.value("port", nlohmann::json())), text_of(a.value("service", nlohmann::json())),
                text_of(a.value("serviceport", nlohmann::json())), name_of(data)};
      out = pack_or_throw(Kind::Data, meta, data, true);
      output = argv[2];
    } else {
      std::cerr << "usage: mproxy-pack INPUT.json OUTPUT.bin\n       mproxy-pack --messages MESSAGES.jsonl OUTPUT.bin\n";
      return 2;
    }
    std::ofstream(output, std::ios::binary) << out;
    std::cout << "wrote " << out.size() << " bytes to '" << output.string() << "'\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mproxy-pack: " << e.what() << "\n";
    return 1;
  }
}
