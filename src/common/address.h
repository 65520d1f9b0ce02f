// Listen/dial addresses ("host:port", "[v6]:port", ":port"): what security defaults need to know.
#pragma once

#include <string_view>

namespace hg {

// The host part: "h:1" -> "h", "[::1]:1" -> "::1", "::1" (no port: several colons) -> "::1",
// ":8080" -> "". A "[" without "]" gives "".
std::string_view HostOfAddress(std::string_view address);

// True when `address`'s host is a loopback name or address (localhost, 127.0.0.0/8, ::1):
// only this host can reach it. False for wildcards (":8080", 0.0.0.0, [::]) and anything else.
bool IsLoopbackAddress(std::string_view address);

}  // namespace hg
