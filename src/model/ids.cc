#include "model/ids.h"

#include <algorithm>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/strings.h"

namespace hg::model {
namespace {

constexpr int64_t kMaxMillis = 9'999'999'999'999;  // 13 digits

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

absl::Status JobName::Check(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("name must not be empty");
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError("name must not be \".\" or \"..\"");
  }
  constexpr std::string_view kAllowed = "; any character but '/' and control characters is allowed";
  size_t chars = 0;
  for (size_t i = 0; i < name.size();) {
    ++chars;
    const auto b0 = static_cast<unsigned char>(name[i]);
    // One UTF-8 sequence: its length from the lead byte, then continuation bytes; overlong
    // forms, surrogates and values past U+10FFFF are invalid.
    size_t len = 0;
    uint32_t cp = 0;
    if (b0 < 0x80) {
      len = 1, cp = b0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      len = 2, cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      len = 3, cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      len = 4, cp = b0 & 0x07;
    }
    bool valid = len > 0 && i + len <= name.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const auto b = static_cast<unsigned char>(name[i + k]);
      valid = (b & 0xc0) == 0x80;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (valid) {
      valid = !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
              !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
    }
    if (!valid) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "name is not valid UTF-8 (byte 0x%02x at position %d)", b0, static_cast<int>(i + 1)));
    }
    if (cp == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("name contains '/' at position ", chars, Av(kAllowed)));
    }
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("name contains control character U+%04X at position %d%s", cp,
                          static_cast<int>(chars), Av(kAllowed)));
    }
    i += len;
  }
  if (chars > kMaxLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("name is ", chars, " characters long; the maximum is ", kMaxLength));
  }
  return absl::OkStatus();
}

bool JobName::IsValid(std::string_view name) { return Check(name).ok(); }

absl::StatusOr<JobName> JobName::Parse(std::string_view name) {
  HG_RETURN_IF_ERROR(Check(name));
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
  const size_t at = id.rfind('@');
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
  // The suffix holds no '@'; the name may.
  const size_t at = id.rfind('@');
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
