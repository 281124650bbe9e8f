// Stops a build of the SDK with a C++ older than C++20 at the first SDK header, with one line
// that says so, instead of a page of errors about std::span. Every SDK header includes it first.
// The missing include is the message: a failed #include is the one error that ends compilation.
#pragma once

#if __cplusplus < 202002L
#include "passthru SDK: needs C++20 or later; build with -std=c++20 (CMake: link passthru::sdk)"
#endif
