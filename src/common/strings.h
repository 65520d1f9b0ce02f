// Debian's abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0),
// so std::string_view does not convert to it implicitly. Av() bridges the two at call sites
// such as absl::StrCat(Av(text)).
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace hg {

inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace hg
