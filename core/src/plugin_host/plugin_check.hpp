// check_plugin: `passthru --check-plugin FILE.so [CORPUS_DIR]`. Loads one plugin as passthru
// would (the same refusals: export, ABI, fingerprint), configures it with a CATCHALL rule, and
// runs the SDK's probe harness (sdk/testing/probe_harness.hpp) over every file of a corpus:
// each file is one client's bytes, fed one byte at a time, without and with EOF. It reports each
// input on which the contract of protocol.hpp broke, so that an author learns their identify()
// is unstable before a client is misrouted by how TCP split its bytes. It runs no server.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace passthru::core {

/// The corpus used when none is named: the plugins' captured client vectors and the template's
/// corpus, from the source tree for a built binary or PREFIX/share/passthru/corpus when installed.
std::vector<std::filesystem::path> default_corpus_dirs();

/// Returns the exit status: 0 the contract held on every input, 1 it broke (each break is
/// printed on `out`), 2 the plugin or the corpus could not be used (said on `err`).
int check_plugin(const std::filesystem::path& plugin, const std::vector<std::filesystem::path>& corpus,
                 std::FILE* out, std::FILE* err);

/// The command line's form: {FILE.so} or {FILE.so, CORPUS_DIR}; the default corpus for the first.
int check_plugin_command(const std::vector<std::string>& args);

}  // namespace passthru::core
