#include "plugin_check.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

#include "passthru_corpus_dirs.hpp"  // generated: kInstalledCorpusDir, kSourceCorpusDirs
#include "plugin_registry.hpp"
#include "probe_harness.hpp"

namespace passthru::core {

namespace fs = std::filesystem;

namespace {

/// What the host buffers by default (a listener's max_sniff_bytes).
constexpr std::size_t kCapacity = 16384;

std::vector<fs::path> corpus_files(const std::vector<fs::path>& dirs, std::FILE* err, bool& usable) {
  std::vector<fs::path> files;
  for (const fs::path& dir : dirs) {
    std::error_code ec;
    if (fs::is_regular_file(dir, ec)) {
      files.push_back(dir);
      continue;
    }
    if (!fs::is_directory(dir, ec)) {
      std::fprintf(err, "passthru: %s: no such corpus folder or file\n", dir.c_str());
      usable = false;
      continue;
    }
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file() && it->path().extension() != ".md") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::vector<fs::path> default_corpus_dirs() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  fs::path installed = exe.parent_path() / kInstalledCorpusDir;
  if (fs::is_directory(exe.parent_path() / "plugins", ec)) {  // a build tree: the sources' vectors
    std::vector<fs::path> dirs;
    for (const char* dir : kSourceCorpusDirs) dirs.emplace_back(dir);
    return dirs;
  }
  return {fs::weakly_canonical(installed, ec)};
}

int check_plugin(const fs::path& plugin, const std::vector<fs::path>& corpus, std::FILE* out, std::FILE* err) {
  PluginRegistry registry;
  if (std::string why = registry.load_file(plugin); !why.empty()) {
    std::fprintf(err, "passthru: %s\n", why.c_str());
    return 2;
  }
  const LoadedPlugin& loaded = registry.all().begin()->second;
  auto protocol = loaded.create();
  std::vector<passthru::sdk::RuleKey> rules{{"CATCHALL", {1, 1}}};
  passthru::sdk::Diagnostics diagnostics;
  if (!protocol || !loaded.descriptor->apply_rules(*protocol, rules, diagnostics)) {
    std::fprintf(err, "passthru: %s: %s could not be configured with a CATCHALL rule%s%s\n", plugin.c_str(),
                 loaded.name.c_str(), diagnostics.empty() ? "" : ": ",
                 diagnostics.empty() ? "" : diagnostics.all().front().message.c_str());
    return 2;
  }
  bool usable = true;
  std::vector<fs::path> files = corpus_files(corpus, err, usable);
  if (!usable) return 2;
  if (files.empty()) {
    std::fprintf(err, "passthru: the corpus holds no file to feed %s\n", loaded.name.c_str());
    return 2;
  }
  std::size_t broken = 0, matched = 0, refused = 0, undecided = 0;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (bool eof : {false, true}) {
      auto report = passthru::testing::probe_every_prefix(*protocol, {bytes.data(), bytes.size()}, kCapacity, eof);
      if (!report.violation.empty()) {
        ++broken;
        std::fprintf(out, "%s (%zu bytes%s): %s\n", file.c_str(), bytes.size(), eof ? ", then EOF" : "",
                     report.violation.c_str());
      } else if (!eof) {
        std::size_t& count = report.verdict.kind == passthru::sdk::VerdictKind::Match     ? matched
                             : report.verdict.kind == passthru::sdk::VerdictKind::NoMatch ? refused
                                                                                          : undecided;
        ++count;
      }
    }
  }
  std::fprintf(out, "%s (%s): %zu input%s fed byte by byte, without and with EOF: %zu matched, %zu no match, "
               "%zu undecided; ",
               loaded.name.c_str(), plugin.c_str(), files.size(), files.size() == 1 ? "" : "s", matched, refused,
               undecided);
  if (broken) std::fprintf(out, "the contract broke %zu time%s\n", broken, broken == 1 ? "" : "s");
  else std::fprintf(out, "the contract held\n");
  return broken ? 1 : 0;
}

int check_plugin_command(const std::vector<std::string>& args) {
  std::vector<fs::path> corpus = args.size() > 1 ? std::vector<fs::path>{args[1]} : default_corpus_dirs();
  return check_plugin(args.at(0), corpus, stdout, stderr);
}

}  // namespace passthru::core
