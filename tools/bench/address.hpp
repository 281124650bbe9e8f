// The bench programs' one shared helper: "127.0.0.1:PORT" as an IPv4 socket address.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>

inline sockaddr_in address(const std::string& text) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  auto colon = text.rfind(':');
  inet_pton(AF_INET, text.substr(0, colon).c_str(), &a.sin_addr);
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1))));
  return a;
}
