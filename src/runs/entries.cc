#include "runs/entries.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "model/field_errors.h"
#include "model/json.h"
#include "model/json_reader.h"

namespace hg::runs {
namespace {

absl::StatusOr<model::Json> ParseObject(std::string_view text, std::string_view what) {
  HG_ASSIGN_OR_RETURN(model::Json json, model::ParseJson(text));
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": must be a JSON object"));
  }
  return json;
}

}  // namespace

std::string EncodePending(const PendingEntry& e) {
  model::Json j = model::Json::object();
  j["attempt"] = e.attempt;
  j["job_rev"] = e.job_revision;
  if (!e.traceparent.empty()) j["traceparent"] = e.traceparent;
  return model::DumpJson(j);
}

absl::StatusOr<PendingEntry> DecodePending(std::string_view text) {
  HG_ASSIGN_OR_RETURN(model::Json json, ParseObject(text, "pending entry"));
  std::vector<model::FieldError> errors;
  model::ObjectReader r(json, "", &errors);
  PendingEntry e;
  if (auto v = r.Int("attempt")) e.attempt = static_cast<int>(*v);
  if (auto v = r.Int("job_rev")) e.job_revision = *v;
  if (auto v = r.String("traceparent")) e.traceparent = *v;
  if (e.attempt < 1) errors.push_back({"attempt", "must be 1 or more"});
  if (!errors.empty()) return model::InvalidFieldsError("invalid pending entry", errors);
  return e;
}

std::string EncodeInflight(const InflightEntry& e) {
  model::Json j = model::Json::object();
  j["worker_id"] = e.worker_id;
  j["lease"] = e.lease;
  j["attempt"] = e.attempt;
  return model::DumpJson(j);
}

absl::StatusOr<InflightEntry> DecodeInflight(std::string_view text) {
  HG_ASSIGN_OR_RETURN(model::Json json, ParseObject(text, "inflight entry"));
  std::vector<model::FieldError> errors;
  model::ObjectReader r(json, "", &errors);
  InflightEntry e;
  if (auto v = r.String("worker_id")) e.worker_id = *v;
  if (auto v = r.Int("lease")) e.lease = *v;
  if (auto v = r.Int("attempt")) e.attempt = static_cast<int>(*v);
  if (e.attempt < 1) errors.push_back({"attempt", "must be 1 or more"});
  if (!errors.empty()) return model::InvalidFieldsError("invalid inflight entry", errors);
  return e;
}

std::string EncodeCursor(absl::Time instant) { return model::FormatRfc3339(instant); }

absl::StatusOr<absl::Time> DecodeCursor(std::string_view text) { return model::ParseRfc3339(text); }

std::string LockKey(const model::Keys& keys, const model::JobName& job, store::LeaseId lease) {
  return absl::StrCat(keys.LockPrefix(job), absl::Hex(static_cast<uint64_t>(lease)));
}

}  // namespace hg::runs
