// Strong ids of the domain (STYLE.md "Names"): a JobName and an ExecutionId cannot be mixed up
// with each other or with arbitrary strings. Pure value types; thread-compatible.
//
// JobName: as v1, any 1-128 Unicode characters (valid UTF-8) except '/' and control characters
// (U+0000-U+001F, U+007F-U+009F), and not "." or "..". Spaces, '%', '@', '?', '#' and
// non-ASCII letters ("My Job", "备份") are fine: store keys hold names only through Keys'
// encoding (model/keys.h), so no name can escape its key prefix.
//
// ExecutionId (decided format, docs/design/storage.md):
//   <job-name>@<13-digit unix-ms of scheduled time>-<8 lowercase hex random>
//   e.g. backup@1772938800000-1a2b3c4d, a@b@1772938800000-1a2b3c4d for job "a@b"
// The suffix never holds '@', so an id splits unambiguously at its last '@'. Its "suffix"
// (`1772938800000-1a2b3c4d`) is the last key segment of the record (exec/<job-name>/<suffix>), so
// within one job the records sort by scheduled time; the random part keeps two executions of
// the same instant (a schedule fire and a manual trigger, say) distinct.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hg::model {

class JobName {
 public:
  static constexpr size_t kMaxLength = 128;

  // An empty (unset) name; not valid anywhere a real name is needed.
  JobName() = default;

  // InvalidArgument naming the offending character / length when `name` is not valid.
  static absl::StatusOr<JobName> Parse(std::string_view name);
  static bool IsValid(std::string_view name);
  // OK, or the InvalidArgument Parse would return.
  static absl::Status Check(std::string_view name);

  const std::string& str() const { return name_; }
  bool empty() const { return name_.empty(); }

  friend auto operator<=>(const JobName&, const JobName&) = default;
  friend bool operator==(const JobName&, const JobName&) = default;

 private:
  explicit JobName(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

class ExecutionId {
 public:
  // Scheduled times are encoded as exactly 13 decimal digits of unix milliseconds, which covers
  // 1970-01-01 .. 2286-11-20; New() clamps times outside that range (never happens for cron).
  static constexpr int kMillisDigits = 13;
  static constexpr int kRandomHexDigits = 8;

  ExecutionId() = default;  // empty (unset)

  // A fresh id for `job` scheduled at `scheduled` (truncated to milliseconds), with 32 random
  // bits drawn from `rng`. `job` must be a valid (non-empty) name.
  static ExecutionId New(const JobName& job, absl::Time scheduled, absl::BitGenRef rng);

  // Parses the textual form; InvalidArgument on any deviation from the format above.
  static absl::StatusOr<ExecutionId> Parse(std::string_view id);

  // Parses the key suffix `<13-digit-ms>-<8 hex>` of a record of `job`.
  static absl::StatusOr<ExecutionId> FromSuffix(const JobName& job, std::string_view suffix);

  const std::string& str() const { return id_; }
  bool empty() const { return id_.empty(); }
  const JobName& job() const { return job_; }
  // `<13-digit-ms>-<8 hex>`: the last segment of the record key.
  std::string_view suffix() const;
  // Scheduled time, millisecond precision.
  absl::Time scheduled() const { return absl::FromUnixMillis(scheduled_ms_); }

  friend bool operator==(const ExecutionId& a, const ExecutionId& b) { return a.id_ == b.id_; }
  friend auto operator<=>(const ExecutionId& a, const ExecutionId& b) { return a.id_ <=> b.id_; }

 private:
  ExecutionId(JobName job, int64_t scheduled_ms, std::string id)
      : job_(std::move(job)), scheduled_ms_(scheduled_ms), id_(std::move(id)) {}

  JobName job_;
  int64_t scheduled_ms_ = 0;
  std::string id_;
};

}  // namespace hg::model
