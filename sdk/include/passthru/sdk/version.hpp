// The SDK's ABI version and build fingerprint. A plugin records both when it is built and the
// host refuses a plugin whose values differ from its own, naming which one differs.
// The fingerprint covers what breaks a C++ interface silently: the SDK headers' contents
// (their hash is generated at build time into sdk_hash.hpp), the C++ standard library ABI, and
// the standard library's debug mode (-D_GLIBCXX_DEBUG changes the layout of std::string and
// std::vector, which Diagnostics carries across the boundary: such a plugin would crash the
// host at its first diagnostic).
#pragma once

#include "passthru/sdk/requires_cxx20.hpp"  // first: one clear line for an older -std

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

#if defined(_GLIBCXX_DEBUG)
#define PASSTHRU_STDLIB_MODE "debug"
#else
#define PASSTHRU_STDLIB_MODE "release"
#endif

namespace passthru::sdk {

inline constexpr unsigned kAbiMajor = PASSTHRU_SDK_ABI_MAJOR;

/// "stdlib=...;stdlib-mode=...;sdk-headers=..." — equal strings mean the plugin and host agree
/// on layouts. Fields are `name=value`, split by ';', so the host can say which one differs.
inline constexpr const char* kBuildFingerprint =
    "stdlib=" PASSTHRU_STDLIB_ABI ";stdlib-mode=" PASSTHRU_STDLIB_MODE ";sdk-headers=" PASSTHRU_SDK_HEADER_HASH;

}  // namespace passthru::sdk
