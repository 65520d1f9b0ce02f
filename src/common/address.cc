#include "common/address.h"

#include <arpa/inet.h>

#include <string>

namespace hg {

std::string_view HostOfAddress(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    return close == std::string_view::npos ? std::string_view() : address.substr(1, close - 1);
  }
  // "host:port"; an IPv6 address without brackets has more than one colon.
  const size_t colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(':') == colon) {
    return address.substr(0, colon);
  }
  return address;
}

bool IsLoopbackAddress(std::string_view address) {
  const std::string_view host = HostOfAddress(address);
  if (host == "localhost") return true;
  const std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace hg
