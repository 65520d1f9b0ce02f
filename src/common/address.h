// Listen/dial addresses ("host:port", "[v6]:port", ":port"): what security defaults need to know.
#pragma once

#include <string_view>

namespace hg {

// True when `address`'s host is a loopback name or address (localhost, 127.0.0.0/8, ::1):
// only this host can reach it. False for wildcards (":8080", 0.0.0.0, [::]) and anything else.
bool IsLoopbackAddress(std::string_view address);

}  // namespace hg
