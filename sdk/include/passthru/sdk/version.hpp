// The SDK's ABI version and build fingerprint. A plugin records both when it is built and the
// host refuses a plugin whose values differ from its own, naming which one differs.
// The fingerprint covers what breaks a C++ interface silently: the SDK headers' contents
// (their hash is generated at build time into sdk_hash.hpp) and the C++ standard library ABI.
#pragma once

#include "passthru/sdk/sdk_hash.hpp"  // generated: PASSTHRU_SDK_HEADER_HASH

// Raised whenever a type that crosses the plugin boundary changes its layout or virtuals
// (Verdict, Facts, ConnView, RuleKey, Protocol, PluginDescriptor). The header hash changes
// with any edit anyway; this number is what the refusal names, and what the export's symbol
// carries. 2: Facts with kinds (Text, Wire, Ambiguous) and a larger buffer; Protocol's vtable
// gained select_rule().
#define PASSTHRU_SDK_ABI_MAJOR 2

#define PASSTHRU_STRINGIFY_(x) #x
#define PASSTHRU_STRINGIFY(x) PASSTHRU_STRINGIFY_(x)

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define PASSTHRU_STDLIB_ABI "libstdc++/cxx11abi=" PASSTHRU_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define PASSTHRU_STDLIB_ABI "libc++/" PASSTHRU_STRINGIFY(_LIBCPP_ABI_VERSION)
#else
#define PASSTHRU_STDLIB_ABI "unknown-stdlib"
#endif

namespace passthru::sdk {

inline constexpr unsigned kAbiMajor = PASSTHRU_SDK_ABI_MAJOR;

/// "stdlib=...;sdk-headers=..." — equal strings mean the plugin and host agree on layouts.
inline constexpr const char* kBuildFingerprint =
    "stdlib=" PASSTHRU_STDLIB_ABI ";sdk-headers=" PASSTHRU_SDK_HEADER_HASH;

}  // namespace passthru::sdk
