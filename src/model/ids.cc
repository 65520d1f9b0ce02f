#include "model/ids.h"

#include <algorithm>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/strings.h"

namespace hg::model {
namespace {

constexpr int64_t kMaxMillis = 9'999'999'999'999;  // 13 digits

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Printable form of one byte for error messages (names may carry control bytes).
std::string ShowChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return absl::StrCat("'", std::string(1, c), "'");
  return absl::StrFormat("byte 0x%02x", u);
}

}  // namespace

bool JobName::IsValid(std::string_view name) {
  return !name.empty() && name.size() <= kMaxLength &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

absl::StatusOr<JobName> JobName::Parse(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("name must not be empty");
  if (name.size() > kMaxLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("name is ", name.size(), " characters long; the maximum is ", kMaxLength));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("name contains ", ShowChar(name[i]), " at position ", i + 1,
                       "; allowed are letters, digits, '.', '_' and '-'"));
    }
  }
  return JobName(std::string(name));
}

ExecutionId ExecutionId::New(const JobName& job, absl::Time scheduled, absl::BitGenRef rng) {
  const int64_t ms = std::clamp<int64_t>(absl::ToUnixMillis(scheduled), 0, kMaxMillis);
  const uint32_t random = absl::Uniform<uint32_t>(rng);
  std::string id = absl::StrFormat("%s@%013d-%08x", job.str(), ms, random);
  return ExecutionId(job, ms, std::move(id));
}

std::string_view ExecutionId::suffix() const {
  std::string_view id = id_;
  const size_t at = id.find('@');
  return at == std::string_view::npos ? std::string_view() : id.substr(at + 1);
}

absl::StatusOr<ExecutionId> ExecutionId::FromSuffix(const JobName& job, std::string_view suffix) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid execution id \"", job.str(), "@", Av(suffix), "\": ", Av(why),
                     " (expected <job-name>@<13-digit unix ms>-<8 lowercase hex>)"));
  };
  if (job.empty()) return bad("empty job name");
  if (suffix.size() != kMillisDigits + 1 + kRandomHexDigits || suffix[kMillisDigits] != '-') {
    return bad("malformed suffix");
  }
  int64_t ms = 0;
  for (int i = 0; i < kMillisDigits; ++i) {
    if (suffix[i] < '0' || suffix[i] > '9') return bad("scheduled time is not 13 digits");
    ms = ms * 10 + (suffix[i] - '0');
  }
  for (size_t i = kMillisDigits + 1; i < suffix.size(); ++i) {
    if (!IsLowerHex(suffix[i])) return bad("random part is not 8 lowercase hex digits");
  }
  return ExecutionId(job, ms, absl::StrCat(job.str(), "@", Av(suffix)));
}

absl::StatusOr<ExecutionId> ExecutionId::Parse(std::string_view id) {
  const size_t at = id.find('@');
  if (at == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid execution id \"", Av(id),
                     "\": missing '@' (expected <job-name>@<13-digit unix ms>-<8 lowercase hex>)"));
  }
  auto job = JobName::Parse(id.substr(0, at));
  if (!job.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid execution id \"", Av(id), "\": job ", job.status().message()));
  }
  return FromSuffix(*job, id.substr(at + 1));
}

}  // namespace hg::model
