#include "model/json.h"

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace hg::model {
namespace {

// Finds where nesting first exceeds kMaxJsonDepth, outside string literals; npos if it never does.
size_t TooDeepAt(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

}  // namespace

absl::StatusOr<Json> ParseJson(std::string_view text) {
  if (size_t at = TooDeepAt(text); at != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", at + 1, ": nesting deeper than ", kMaxJsonDepth));
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: …": drop
    // the bracketed tag, keep the position (line, column) and what was expected.
    std::string what = e.what();
    const size_t tag_end = what.find("] ");
    if (tag_end != std::string::npos) what.erase(0, tag_end + 2);
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", what));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", e.what()));
  }
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, Av(text), &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid RFC 3339 time \"", Av(text), "\": ", err));
  }
  return t;
}

}  // namespace hg::model
