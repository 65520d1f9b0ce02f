// Go-style duration strings ("90s", "1h30m", "1.5s", "500ms"), as the v1 API and `@every` use.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hg {

// Parses a Go time.ParseDuration string: a sequence of decimal numbers with units
// ns, us (or µs), ms, s, m, h; an optional leading sign. "0" alone is allowed.
// Errors are InvalidArgument with a message naming the offending text.
absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text);

// Formats like Go's Duration.String(): "1h30m0s", "5s", "1.5s", "500ms", "0s".
std::string FormatGoDuration(absl::Duration d);

}  // namespace hg
