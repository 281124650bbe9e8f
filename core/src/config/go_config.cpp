#include "go_config.hpp"

#include <algorithm>
#include <cctype>
#include <regex>

namespace passthru::core {

using passthru::sdk::SourcePosition;

namespace {

bool comes_before(SourcePosition a, SourcePosition b) {
  return std::pair(a.line, a.column) < std::pair(b.line, b.column);
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

/// Walks the Go tree in a JSON config: every listener, its tables, their rules. Entries that
/// are not objects are left to the loader, which says what they should be.
template <typename Visit>
void for_each_table(JsonValue& root, Visit visit) {
  JsonValue* servers = nullptr;
  for (JsonMember& member : root.members)
    if (member.key == "servers") servers = &member.value;
  if (!servers || servers->kind != JsonValue::Kind::Object) return;
  for (JsonMember& server : servers->members)
    if (server.value.kind == JsonValue::Kind::Object)
      for (JsonMember& table : server.value.members)
        if (table.value.kind == JsonValue::Kind::Object) visit(server, table);
}

class Translator {
 public:
  explicit Translator(std::vector<JsonDiagnostic>& errors) : errors_(errors) {}

  std::optional<GoConfigTranslation> translate(std::string_view json, std::string_view file_name) {
    JsonError syntax;
    auto root = parse_json(json, syntax);
    if (!root) return errors_.push_back({syntax.where, syntax.message}), std::nullopt;
    if (root->kind != JsonValue::Kind::Object) {
      errors_.push_back({root->where, std::string("a JSON config is an object, { \"version\": ..., \"servers\": { ... } }, not ") +
                                          json_kind_name(root->kind)});
      return std::nullopt;
    }
    std::string version = take_version(*root);
    refuse_nulls(*root);
    if (!errors_.empty()) return std::nullopt;
    drop_empty_to_addr(*root);
    note_what_go_left_open(*root);

    std::sort(notes_.begin(), notes_.end(), [](const auto& a, const auto& b) { return comes_before(a.where, b.where); });
    TomlFromJson writer(comments_);
    writer.comment("passthru config converted from " + std::string(file_name) + ", a passthru (Go) config" +
                   (version.empty() ? std::string() : " (version " + version + ")") + ".");
    writer.comment("Each note says where passthru's documented rules decide what passthru (Go) left open or did otherwise.");
    writer.document(*root);
    return GoConfigTranslation{writer.text(), writer.take_map(), std::move(notes_)};
  }

 private:
  /// `version` ("v0.2.0") names the Go release the file was written for; passthru reads the
  /// tree the same whatever it says, so it is checked for its form and written as a comment.
  std::string take_version(JsonValue& root) {
    auto found = std::find_if(root.members.begin(), root.members.end(), [](const JsonMember& m) { return m.key == "version"; });
    if (found == root.members.end()) return "";
    static const std::regex form(R"(v[0-9]+\.[0-9]+\.[0-9]+)");
    std::string version = found->value.text;
    if (found->value.kind != JsonValue::Kind::String || !std::regex_match(version, form))
      errors_.push_back({found->value.where, "version must be a string \"vMAJOR.MINOR.PATCH\", such as \"v0.2.0\""});
    root.members.erase(found);
    return version;
  }

  /// TOML has no null; passthru (Go) read one as a key left out, which is what to write.
  void refuse_nulls(const JsonValue& value) {
    if (value.kind == JsonValue::Kind::Null)
      errors_.push_back({value.where, "null has no TOML equivalent: leave the key out"});
    for (const JsonValue& item : value.items) refuse_nulls(item);
    for (const JsonMember& member : value.members) refuse_nulls(member.value);
  }

  /// passthru (Go) writes `"to_addr": ""` on every rule it saves without one (a REJECT); to
  /// passthru an empty to_addr is a mistake, so it is left out where the action takes none.
  void drop_empty_to_addr(JsonValue& root) {
    for_each_table(root, [&](JsonMember&, JsonMember& table) {
      for (JsonMember& rule : table.value.members) {
        auto& keys = rule.value.members;
        const JsonValue* action = rule.value.find("action");
        if (action && action->text == "FORWARD") continue;
        auto empty = std::find_if(keys.begin(), keys.end(), [](const JsonMember& m) {
          return m.key == "to_addr" && m.value.kind == JsonValue::Kind::String && m.value.text.empty();
        });
        if (empty == keys.end()) continue;
        note(rule, empty->where, "an empty to_addr on a rule that takes none (as passthru (Go) saves a REJECT) is left out");
        keys.erase(empty);
      }
    });
  }

  void note_what_go_left_open(JsonValue& root) {
    JsonMember* last_server = nullptr;
    std::vector<std::string> protocols;
    auto note_protocol_order = [&] {
      if (last_server && protocols.size() > 1) {
        std::string order;
        for (const std::string& p : protocols) order += (order.empty() ? "" : ", then ") + p;
        note(*last_server, last_server->where,
             "passthru (Go) asked every protocol at once and took the first answer; passthru asks them in the "
             "order written here: " + order);
      }
      protocols.clear();
    };
    for_each_table(root, [&](JsonMember& server, JsonMember& table) {
      if (&server != last_server) {
        note_protocol_order();
        last_server = &server;
      }
      if (table.key == "CATCHALL") {
        note(table, table.where,
             "passthru (Go) had no protocol named CATCHALL and never applied this table; passthru applies it to "
             "each connection no protocol claims, once every protocol has said no or timeout_ms (-t) has passed");
        return;
      }
      protocols.push_back(table.key);
      note_rule_order(table);
      if (table.key == "TLS") note_sni_wildcards(table);
    });
    note_protocol_order();
  }

  /// A Go map has no order, so its rules were tried in whatever order the map gave (CATCHALL
  /// last); passthru's plugins rank their rules by kind, whatever the order in the file.
  void note_rule_order(JsonMember& table) {
    auto rules = std::count_if(table.value.members.begin(), table.value.members.end(),
                               [](const JsonMember& m) { return m.key != "CATCHALL"; });
    if (rules < 2) return;
    std::string precedence = table.key == "TLS" ? ": exact SNI, then the longest wildcard, then ALPN, then CATCHALL"
                                                : " (plugins/" + lower(table.key) + "/README.md)";
    note(table, table.where,
         "passthru (Go) tried these rules in no fixed order (CATCHALL last); passthru ranks them the same whatever "
         "their order" + precedence);
  }

  void note_sni_wildcards(JsonMember& table) {
    for (JsonMember& rule : table.value.members)
      if (rule.key.starts_with("SNI ") && rule.key.find('*') != std::string::npos)
        note(rule, rule.where,
             "passthru (Go) compared \"" + rule.key.substr(4) + "\" with the client's name as it is written; in "
             "passthru it is a wildcard, for every name that ends in \"" + rule.key.substr(rule.key.find('*') + 1) + "\"");
  }

  void note(const JsonMember& at, SourcePosition where, std::string message) {
    comments_[&at].push_back("note: " + message);
    notes_.push_back({where, std::move(message)});
  }

  std::vector<JsonDiagnostic>& errors_;
  std::vector<JsonDiagnostic> notes_;
  MemberComments comments_;
};

}  // namespace

bool is_json_config(const std::filesystem::path& path) {
  return lower(path.extension().string()) == ".json";
}

std::optional<GoConfigTranslation> translate_go_config(std::string_view json, std::string_view file_name,
                                                       std::vector<JsonDiagnostic>& errors) {
  return Translator(errors).translate(json, file_name);
}

}  // namespace passthru::core
