// Unit tests of the plugin loader, with fixture plugins: a good one, one built for another
// ABI, a library without the export, one that throws while reading its rules, and a missing file.
#include <doctest/doctest.h>

#include "plugin_host/plugin_registry.hpp"

using namespace passthru;
using namespace passthru::core;

namespace {
std::string fixture(const char* name) { return std::string(FIXTURE_PLUGINS) + "/" + name + ".so"; }
}  // namespace

TEST_CASE("the TLS plugin loads and makes configured instances") {
  PluginRegistry registry;
  REQUIRE(registry.load_file(TLS_PLUGIN) == "");
  const LoadedPlugin* tls = registry.find("TLS");
  REQUIRE(tls);
  auto instance = tls->create();
  REQUIRE(instance);
  sdk::Diagnostics d;
  std::vector<sdk::RuleKey> keys{{"SNI a.test", {3, 1}}};
  CHECK(tls->descriptor->apply_rules(*instance, keys, d));
}

TEST_CASE("loading the same plugin twice is no clash; another file with the same name is") {
  PluginRegistry registry;
  REQUIRE(registry.load_file(TLS_PLUGIN) == "");
  CHECK(registry.load_file(TLS_PLUGIN) == "");
  std::string why = registry.load_file(fixture("good"));
  CHECK(why.find("already provided by") != std::string::npos);
}

TEST_CASE("a plugin built for another ABI is refused, naming both versions") {
  PluginRegistry registry;
  std::string why = registry.load_file(fixture("wrong_abi"));
  CHECK(why.find("wrong_abi.so: built against passthru SDK ABI 99, this passthru speaks ABI " +
                 std::to_string(passthru::sdk::kAbiMajor)) != std::string::npos);
}

TEST_CASE("a plugin built against other SDK headers is refused, showing both fingerprints") {
  PluginRegistry registry;
  std::string why = registry.load_file(fixture("other_headers"));
  CHECK(why.find("built against other SDK headers: rebuild the plugin against this passthru's SDK (plugin: ") !=
        std::string::npos);
  CHECK(why.find("sdk-headers=0123456789abcdef") != std::string::npos);
  CHECK(why.find(passthru::sdk::kBuildFingerprint) != std::string::npos);
}

TEST_CASE("a plugin built with the C++ library's debug mode is refused, saying so") {
  PluginRegistry registry;
  std::string why = registry.load_file(fixture("debug_stdlib/debug_stdlib"));
  CHECK(why.find("debug_stdlib.so: built with the C++ library's debug mode (-D_GLIBCXX_DEBUG)") != std::string::npos);
  CHECK(why.find("stdlib-mode=debug") != std::string::npos);
  CHECK(registry.all().empty());
}

TEST_CASE("a library without the export is refused as not a plugin") {
  PluginRegistry registry;
  std::string why = registry.load_file(fixture("no_export"));
  CHECK(why.find("not a passthru plugin") != std::string::npos);
}

TEST_CASE("a missing file is named as missing, not as a bad file descriptor") {
  PluginRegistry registry;
  CHECK(registry.load_file("/nonexistent/x.so") == "/nonexistent/x.so: no such plugin file");
}

TEST_CASE("an exception thrown while reading rules becomes a diagnostic") {
  PluginRegistry registry;
  REQUIRE(registry.load_file(fixture("throwing")) == "");
  const LoadedPlugin* plugin = registry.find("THROWS");
  REQUIRE(plugin);
  auto instance = plugin->create();
  sdk::Diagnostics d;
  std::vector<sdk::RuleKey> keys{{"X", {1, 1}}};
  CHECK_FALSE(plugin->descriptor->apply_rules(*instance, keys, d));
  REQUIRE(d.all().size() == 1);
  CHECK(d.all()[0].message.find("rules are not readable here") != std::string::npos);
}

TEST_CASE("an instance keeps its library loaded after the registry is gone") {
  std::shared_ptr<sdk::Protocol> instance;
  {
    PluginRegistry registry;
    REQUIRE(registry.load_file(TLS_PLUGIN) == "");
    instance = registry.find("TLS")->create();
  }
  CHECK(instance->name() == "TLS");  // would crash if the .so had been unloaded
}
