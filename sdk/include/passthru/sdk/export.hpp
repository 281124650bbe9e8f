// PASSTHRU_EXPORT_PROTOCOL: the one line at the bottom of a plugin that makes its Protocol
// loadable. It exports, through Boost.DLL, a descriptor under a name that carries the SDK's
// ABI major version (passthru_plugin_v2), plus the bare ABI number (passthru_plugin_abi) so
// the host can say "built for ABI 2" instead of "not a plugin".
// The shims it generates catch every exception on the plugin's side: none crosses into the
// host, whose copy of an exception object could outlive the library that threw it.
#pragma once

#include "passthru/sdk/requires_cxx20.hpp"  // first: one clear line for an older -std

#include <boost/dll/alias.hpp>
#include <cstdint>
#include <exception>
#include <span>
#include <type_traits>

#include "passthru/sdk/protocol.hpp"
#include "passthru/sdk/version.hpp"

namespace passthru::sdk {

/// What a plugin library exports. Plain function pointers: the host calls nothing else.
struct PluginDescriptor {
  std::uint32_t abi_major;
  const char* build_fingerprint;
  Protocol* (*create)() noexcept;  ///< nullptr if construction failed
  void (*destroy)(Protocol*) noexcept;
  /// Calls Protocol::apply_rules; an exception becomes a diagnostic. True if no error.
  bool (*apply_rules)(Protocol&, std::span<const RuleKey>, Diagnostics&) noexcept;
};

namespace detail {
inline bool apply_rules_guarded(Protocol& protocol, std::span<const RuleKey> rules,
                                Diagnostics& diagnostics) noexcept {
  try {
    protocol.apply_rules(rules, diagnostics);
  } catch (const std::exception& e) {
    diagnostics.error({}, std::string("plugin failed while reading its rules: ") + e.what());
  } catch (...) {
    diagnostics.error({}, "plugin failed while reading its rules (unknown exception)");
  }
  return diagnostics.empty();
}
}  // namespace detail

}  // namespace passthru::sdk

#define PASSTHRU_CONCAT_(a, b) a##b
#define PASSTHRU_CONCAT(a, b) PASSTHRU_CONCAT_(a, b)
/// The exported symbol's name, e.g. passthru_plugin_v2.
#define PASSTHRU_PLUGIN_SYMBOL PASSTHRU_CONCAT(passthru_plugin_v, PASSTHRU_SDK_ABI_MAJOR)

#define PASSTHRU_EXPORT_PROTOCOL(ProtocolClass)                                               \
  namespace passthru_plugin_export {                                                          \
  static_assert(std::is_base_of_v<::passthru::sdk::Protocol, ProtocolClass>,                  \
                "PASSTHRU_EXPORT_PROTOCOL takes a class derived from passthru::sdk::Protocol"); \
  static_assert(std::is_default_constructible_v<ProtocolClass>,                               \
                "a Protocol must be default-constructible: the host makes one per server");   \
  inline ::passthru::sdk::Protocol* create() noexcept {                                       \
    try {                                                                                     \
      return new ProtocolClass();                                                             \
    } catch (...) {                                                                           \
      return nullptr;                                                                         \
    }                                                                                         \
  }                                                                                           \
  inline void destroy(::passthru::sdk::Protocol* protocol) noexcept { delete protocol; }      \
  inline const ::passthru::sdk::PluginDescriptor descriptor{                                  \
      ::passthru::sdk::kAbiMajor, ::passthru::sdk::kBuildFingerprint, &create, &destroy,      \
      &::passthru::sdk::detail::apply_rules_guarded};                                         \
  inline const std::uint32_t abi_major = ::passthru::sdk::kAbiMajor;                          \
  }                                                                                           \
  BOOST_DLL_ALIAS(passthru_plugin_export::descriptor, PASSTHRU_PLUGIN_SYMBOL)                 \
  BOOST_DLL_ALIAS(passthru_plugin_export::abi_major, passthru_plugin_abi)
