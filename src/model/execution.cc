#include "model/execution.h"

#include <array>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "model/field_errors.h"
#include "model/json_reader.h"

namespace hg::model {
namespace {

// How records written before `reason` existed said it (read only, for those records).
constexpr std::string_view kLegacyNoWorkerText = "no worker available";
constexpr std::string_view kLegacyMissedCountedText = "counted, not listed";

constexpr std::array<std::pair<ExecutionStatus, std::string_view>, 8> kStatuses = {{
    {ExecutionStatus::kScheduled, "scheduled"},
    {ExecutionStatus::kRunning, "running"},
    {ExecutionStatus::kSuccess, "success"},
    {ExecutionStatus::kFailed, "failed"},
    {ExecutionStatus::kTimeout, "timeout"},
    {ExecutionStatus::kKilled, "killed"},
    {ExecutionStatus::kMissed, "missed"},
    {ExecutionStatus::kSkipped, "skipped"},
}};

constexpr std::array<std::pair<EndReason, std::string_view>, 8> kReasons = {{
    {EndReason::kNone, ""},
    {EndReason::kNoWorker, "no_worker"},
    {EndReason::kWorkerLost, "worker_lost"},
    {EndReason::kMissedCounted, "missed_counted"},
    {EndReason::kJobDeleted, "job_deleted"},
    {EndReason::kSessionLost, "session_lost"},
    {EndReason::kRefused, "refused"},
    {EndReason::kResourceLimit, "resource_limit"},
}};

constexpr std::array<std::pair<Trigger, std::string_view>, 3> kTriggers = {{
    {Trigger::kSchedule, "schedule"},
    {Trigger::kManual, "manual"},
    {Trigger::kCatchup, "catchup"},
}};

Json OptionalTime(const std::optional<absl::Time>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

template <typename T>
Json OptionalNumber(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

std::optional<int> IntIn(ObjectReader& r, std::string_view key, int64_t lo, int64_t hi) {
  auto v = r.Int(key);
  if (!v) return std::nullopt;
  if (*v < lo || *v > hi) {
    r.AddError(r.Path(key), absl::StrCat("must be between ", lo, " and ", hi));
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

}  // namespace

std::string_view ToString(ExecutionStatus status) {
  for (const auto& [s, name] : kStatuses) {
    if (s == status) return name;
  }
  return "scheduled";
}

std::optional<ExecutionStatus> ParseExecutionStatus(std::string_view text) {
  for (const auto& [s, name] : kStatuses) {
    if (name == text) return s;
  }
  return std::nullopt;
}

bool IsFinal(ExecutionStatus status) {
  return status != ExecutionStatus::kScheduled && status != ExecutionStatus::kRunning;
}

std::string_view ToString(EndReason reason) {
  for (const auto& [r, name] : kReasons) {
    if (r == reason) return name;
  }
  return "";
}

std::optional<EndReason> ParseEndReason(std::string_view text) {
  for (const auto& [r, name] : kReasons) {
    if (name == text) return r;
  }
  return std::nullopt;
}

std::string_view ToString(Trigger trigger) {
  for (const auto& [t, name] : kTriggers) {
    if (t == trigger) return name;
  }
  return "schedule";
}

std::optional<Trigger> ParseTrigger(std::string_view text) {
  for (const auto& [t, name] : kTriggers) {
    if (name == text) return t;
  }
  return std::nullopt;
}

Execution NewExecution(const JobName& job, absl::Time scheduled, Trigger trigger, int64_t term,
                       absl::BitGenRef rng) {
  Execution e;
  e.id = ExecutionId::New(job, scheduled, rng);
  e.scheduled_time = scheduled;
  e.trigger = trigger;
  e.term = term;
  return e;
}

Json EncodeExecution(const Execution& e) {
  Json out = Json::object();
  out["id"] = e.id.str();
  out["job_name"] = e.job_name().str();
  out["start_time"] = OptionalTime(e.start_time);
  out["end_time"] = OptionalTime(e.end_time);
  out["status"] = ToString(e.status);
  out["output"] = e.output;
  out["error"] = e.error;
  out["retries_attempted"] = e.retries_attempted;
  out["worker_id"] = e.worker_id;
  out["scheduled_time"] = FormatRfc3339(e.scheduled_time);
  out["attempt"] = e.attempt;
  out["exit_code"] = OptionalNumber(e.exit_code);
  out["http_status"] = OptionalNumber(e.http_status);
  out["trace_id"] = e.trace_id;
  out["trigger"] = ToString(e.trigger);
  out["term"] = e.term;
  out["duration_ms"] = OptionalNumber(e.duration_ms);
  if (!e.attempts.empty()) {
    Json list = Json::array();
    for (const AttemptSummary& a : e.attempts) {
      Json item = Json::object();
      item["attempt"] = a.attempt;
      item["worker_id"] = a.worker_id;
      item["status"] = ToString(a.status);
      item["start_time"] = OptionalTime(a.start_time);
      item["end_time"] = OptionalTime(a.end_time);
      item["exit_code"] = OptionalNumber(a.exit_code);
      item["http_status"] = OptionalNumber(a.http_status);
      item["error"] = a.error;
      if (a.reason != EndReason::kNone) item["reason"] = ToString(a.reason);
      list.push_back(std::move(item));
    }
    out["attempts"] = std::move(list);
  }
  if (e.reason != EndReason::kNone) out["reason"] = ToString(e.reason);
  return out;
}

std::string SerializeExecution(const Execution& e) { return DumpJson(EncodeExecution(e)); }

Json EncodeExecutionSummary(const Execution& e) {
  Json out = Json::object();
  out["id"] = e.id.str();
  out["status"] = ToString(e.status);
  out["trigger"] = ToString(e.trigger);
  out["scheduled_time"] = FormatRfc3339(e.scheduled_time);
  out["start_time"] = OptionalTime(e.start_time);
  out["end_time"] = OptionalTime(e.end_time);
  out["duration_ms"] = OptionalNumber(e.duration_ms);
  return out;
}

absl::StatusOr<Execution> DecodeExecution(const Json& json) {
  if (!json.is_object()) {
    return InvalidFieldsError(
        "invalid execution record",
        {{"", absl::StrCat("must be a JSON object, got ", Av(JsonTypeName(json)))}});
  }
  std::vector<FieldError> errors;
  ObjectReader r(json, "", &errors);
  Execution e;
  if (auto id = r.String("id")) {
    auto parsed = ExecutionId::Parse(*id);
    if (parsed.ok()) {
      e.id = *std::move(parsed);
    } else {
      r.AddError("id", std::string(parsed.status().message()));
    }
  } else if (!json.contains("id") || json["id"].is_null()) {
    r.AddError("id", "is required");
  }
  if (auto name = r.String("job_name"); name && !e.id.empty() && *name != e.job_name().str()) {
    r.AddError("job_name", absl::StrCat("\"", *name, "\" disagrees with id \"", e.id.str(), "\""));
  }
  e.start_time = r.Time("start_time");
  e.end_time = r.Time("end_time");
  if (auto s = r.String("status")) {
    if (auto status = ParseExecutionStatus(*s)) {
      e.status = *status;
    } else {
      r.AddError("status", absl::StrCat("unknown status \"", *s, "\""));
    }
  }
  if (auto v = r.String("output")) e.output = *v;
  if (auto v = r.String("error")) e.error = *v;
  if (auto v = IntIn(r, "retries_attempted", 0, 1'000'000)) e.retries_attempted = *v;
  if (auto v = r.String("worker_id")) e.worker_id = *v;
  if (auto t = r.Time("scheduled_time")) {
    e.scheduled_time = *t;
  } else if (!e.id.empty()) {
    e.scheduled_time = e.id.scheduled();
  }
  if (auto v = IntIn(r, "attempt", 1, 1'000'000)) e.attempt = *v;
  e.exit_code = IntIn(r, "exit_code", -1'000'000, 1'000'000);
  e.http_status = IntIn(r, "http_status", 0, 999);
  if (auto v = r.String("trace_id")) e.trace_id = *v;
  if (auto s = r.String("trigger")) {
    if (auto trigger = ParseTrigger(*s)) {
      e.trigger = *trigger;
    } else {
      r.AddError("trigger", absl::StrCat("unknown trigger \"", *s, "\""));
    }
  }
  if (auto v = r.Int("term")) e.term = *v;
  e.duration_ms = r.Int("duration_ms");
  if (const Json* list = r.Array("attempts")) {
    for (size_t i = 0; i < list->size(); ++i) {
      const Json& item = (*list)[i];
      const std::string path = Index("attempts", i);
      if (!item.is_object()) {
        r.AddError(path, "must be a JSON object");
        continue;
      }
      ObjectReader a(item, path, &errors);
      AttemptSummary s;
      if (auto v = IntIn(a, "attempt", 1, 1'000'000)) s.attempt = *v;
      if (auto v = a.String("worker_id")) s.worker_id = *v;
      if (auto v = a.String("status")) {
        if (auto status = ParseExecutionStatus(*v)) {
          s.status = *status;
        } else {
          a.AddError(a.Path("status"), absl::StrCat("unknown status \"", *v, "\""));
        }
      }
      s.start_time = a.Time("start_time");
      s.end_time = a.Time("end_time");
      s.exit_code = IntIn(a, "exit_code", -1'000'000, 1'000'000);
      s.http_status = IntIn(a, "http_status", 0, 999);
      if (auto v = a.String("error")) s.error = *v;
      if (auto v = a.String("reason")) {
        if (auto reason = ParseEndReason(*v)) s.reason = *reason;
      }
      e.attempts.push_back(std::move(s));
    }
  }
  if (auto v = r.String("reason")) {
    // An unknown reason (a newer writer's) reads as none rather than failing the record.
    if (auto reason = ParseEndReason(*v)) e.reason = *reason;
  } else if (e.status == ExecutionStatus::kFailed &&
             absl::StartsWith(e.error, Av(kLegacyNoWorkerText))) {
    // Records written before `reason` existed said it only in the error text.
    e.reason = EndReason::kNoWorker;
  } else if (e.status == ExecutionStatus::kMissed &&
             absl::StrContains(e.error, Av(kLegacyMissedCountedText))) {
    e.reason = EndReason::kMissedCounted;
  }
  // Unknown members are tolerated: a newer writer may add fields.
  if (!errors.empty()) return InvalidFieldsError("invalid execution record", errors);
  return e;
}

absl::StatusOr<Execution> ParseExecution(std::string_view text) {
  HG_ASSIGN_OR_RETURN(Json json, ParseJson(text));
  return DecodeExecution(json);
}

std::string MakeDispatchEnvelope(std::string_view job_json, absl::Time scheduled, int attempt,
                                 std::string_view traceparent) {
  Json env = Json::object();
  auto job = ParseJson(job_json);
  env["job"] = job.ok() ? *std::move(job) : Json(std::string(job_json));
  env["scheduled_time"] = FormatRfc3339(scheduled);
  env["attempt"] = attempt;
  env["traceparent"] = std::string(traceparent);
  return DumpJson(env);
}

}  // namespace hg::model
