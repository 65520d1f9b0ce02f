#include "model/keys.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/strings.h"
#include "model/execution.h"

namespace hg::model {
namespace {

// The rest of `key` after `prefix`, or nullopt when `key` does not start with it.
std::optional<std::string_view> After(std::string_view key, std::string_view prefix) {
  if (key.size() < prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  return key.substr(prefix.size());
}

std::optional<JobName> NameAfter(std::string_view key, const std::string& prefix) {
  auto rest = After(key, prefix);
  if (!rest) return std::nullopt;
  return Keys::NameFromSegment(*rest);
}

// Bytes kept as is in a key segment: the old name alphabet.
bool Plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower-case hex is not canonical
}

}  // namespace

std::string Keys::NameSegment(const JobName& name) { return NamePrefixSegment(name.str()); }

std::string Keys::NamePrefixSegment(std::string_view name_prefix) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name_prefix.size());
  for (char c : name_prefix) {
    if (Plain(c)) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

std::optional<JobName> Keys::NameFromSegment(std::string_view segment) {
  std::string decoded;
  decoded.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (Plain(segment[i])) {
      decoded += segment[i];
      continue;
    }
    if (segment[i] != '%' || i + 2 >= segment.size()) return std::nullopt;
    const int hi = HexValue(segment[i + 1]), lo = HexValue(segment[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const char c = static_cast<char>(hi * 16 + lo);
    if (Plain(c)) return std::nullopt;  // "%41" for 'A': not the one canonical form
    decoded += c;
    i += 2;
  }
  auto name = JobName::Parse(decoded);
  if (!name.ok()) return std::nullopt;
  return *std::move(name);
}

std::string Keys::IdSegment(const ExecutionId& id) {
  return absl::StrCat(NameSegment(id.job()), "@", Av(id.suffix()));
}

std::optional<ExecutionId> Keys::IdFromSegment(std::string_view segment) {
  // Name segments hold no '@'.
  const size_t at = segment.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  auto name = NameFromSegment(segment.substr(0, at));
  if (!name) return std::nullopt;
  auto id = ExecutionId::FromSuffix(*name, segment.substr(at + 1));
  if (!id.ok()) return std::nullopt;
  return *std::move(id);
}

Keys::Keys(std::string_view prefix) : prefix_(prefix.empty() ? kDefaultPrefix : prefix) {
  if (prefix_.back() != '/') prefix_ += '/';
}

std::optional<JobName> Keys::JobFromKey(std::string_view key) const {
  return NameAfter(key, JobsPrefix());
}

std::optional<JobName> Keys::CursorFromKey(std::string_view key) const {
  return NameAfter(key, CursorPrefix());
}

std::string Keys::StatusIndexPrefix(const JobName& name, ExecutionStatus status) const {
  return absl::StrCat(StatusIndexOf(name), Av(ToString(status)), "/");
}

std::string Keys::TimeBound(std::string_view prefix, int64_t unix_ms) {
  return absl::StrCat(Av(prefix), absl::StrFormat("%0*d", ExecutionId::kMillisDigits,
                                                  std::max<int64_t>(0, unix_ms)));
}

std::optional<ExecutionId> Keys::ExecFromKey(std::string_view key) const {
  auto rest = After(key, ExecRoot());
  if (!rest) return std::nullopt;
  const size_t slash = rest->find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto name = NameFromSegment(rest->substr(0, slash));
  if (!name) return std::nullopt;
  auto id = ExecutionId::FromSuffix(*name, rest->substr(slash + 1));
  if (!id.ok()) return std::nullopt;
  return *std::move(id);
}

std::optional<ExecutionId> Keys::KillFromKey(std::string_view key) const {
  return IdFromKey(key, KillPrefix());
}

std::optional<ExecutionId> Keys::IdFromKey(std::string_view key, std::string_view prefix) const {
  auto rest = After(key, prefix);
  if (!rest) return std::nullopt;
  return IdFromSegment(*rest);
}

std::string Keys::StatsMinute(absl::Time minute) const {
  const int64_t m = absl::ToUnixSeconds(minute) / 60;
  return absl::StrFormat("%sstats/%010d/", prefix_, m);
}

}  // namespace hg::model
