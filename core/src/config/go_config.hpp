// A passthru (Go) JSON config as passthru reads it: the Go project's tree (`version`, `servers`
// -> listener address -> protocol -> rule key -> { action, to_addr }) is passthru's own, so the
// JSON is written as the TOML it stands for, and that TOML goes through the one config loader.
// `passthru convert` prints the same text.
//
// Where the Go project left the outcome open, passthru's documented rules apply, and a note
// says so at the place in the JSON: rule order inside a protocol (a Go map's), which protocol
// answers first (Go raced them), a listener's CATCHALL table (Go had no protocol of that name),
// and an SNI with '*' (Go compared it as a literal name). Nothing here loads plugins or checks
// a rule: the loader does, at the JSON's own line and column (through the SourceMap).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "toml_from_json.hpp"

namespace passthru::core {

/// A note or an error at a place in the JSON file.
struct JsonDiagnostic {
  passthru::sdk::SourcePosition where;
  std::string message;
};

struct GoConfigTranslation {
  std::string toml;                    ///< the config as TOML, with each note as a comment
  SourceMap positions;                 ///< from that text back to the JSON
  std::vector<JsonDiagnostic> notes;   ///< in the order of the JSON file
};

/// Whether `path` is read as a JSON config: its name ends in ".json".
bool is_json_config(const std::filesystem::path& path);

/// Reads a JSON config's text; `file_name` is named in the TOML's first comment. On any error
/// returns nullopt with every error found in `errors`.
std::optional<GoConfigTranslation> translate_go_config(std::string_view json, std::string_view file_name,
                                                       std::vector<JsonDiagnostic>& errors);

}  // namespace passthru::core
