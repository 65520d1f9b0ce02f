// JSON and time helpers shared by the model codecs. Pure; thread-safe (no state).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace hg::model {

// Objects keep their insertion order, so responses read in a stable, documented field order.
using Json = nlohmann::ordered_json;

// Nesting deeper than this is rejected before parsing (bounds recursion on hostile input).
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as one JSON value. Never throws. InvalidArgument with a message that names the
// position, e.g. `invalid JSON: parse error at line 2, column 7: syntax error while parsing …`.
absl::StatusOr<Json> ParseJson(std::string_view text);

// Compact serialization. Never throws: invalid UTF-8 (e.g. in command output) becomes U+FFFD.
std::string DumpJson(const Json& value);

// RFC 3339 in UTC with the shortest exact fraction: "2026-03-08T03:00:00Z",
// "2026-03-08T03:00:00.25Z".
std::string FormatRfc3339(absl::Time t);
// Accepts any RFC 3339 offset ("Z", "+02:00") and fraction. InvalidArgument otherwise.
absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text);

}  // namespace hg::model
