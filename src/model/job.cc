#include "model/job.h"

#include <algorithm>
#include <array>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/duration.h"
#include "common/status.h"
#include "common/strings.h"
#include "cron/schedule.h"
#include "model/field_errors.h"
#include "model/json_reader.h"

namespace hg::model {
namespace {

constexpr std::array<std::string_view, 7> kMethods = {"GET",   "HEAD",   "POST",   "PUT",
                                                      "PATCH", "DELETE", "OPTIONS"};

// The read-only members our responses carry; accepted and ignored on input.
constexpr std::array<std::string_view, 5> kReadOnly = {"id", "created_at", "updated_at", "next_run",
                                                       "last_execution"};

bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }
bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}
bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

std::optional<std::string> LabelKeyProblem(std::string_view key) {
  if (key.empty() || key.size() > JobLimits::kMaxLabelKey) {
    return absl::StrCat("key must be 1 to ", JobLimits::kMaxLabelKey, " characters");
  }
  for (char c : key) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-' && c != '/') {
      return "key may contain only letters, digits, '.', '_', '-' and '/'";
    }
  }
  if (!IsAlnum(key.front()) || !IsAlnum(key.back())) {
    return "key must start and end with a letter or digit";
  }
  return std::nullopt;
}

bool IsHeaderNameChar(char c) {
  // RFC 9110 token characters.
  return IsAlnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::optional<std::string> UrlProblem(std::string_view url) {
  if (url.size() > JobLimits::kMaxUrl)
    return absl::StrCat("must be at most ", JobLimits::kMaxUrl, " characters");
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return "must not contain spaces or control characters";
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return "must be an absolute http:// or https:// URL";
  const std::string scheme = absl::AsciiStrToLower(Av(url.substr(0, sep)));
  if (scheme != "http" && scheme != "https") {
    return absl::StrCat("scheme \"", scheme, "\" is not supported (use http or https)");
  }
  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return "has an unterminated IPv6 address";
    host = authority.substr(0, close + 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "has garbage after the IPv6 address";
      port = rest.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return "must name a host";
  if (!port.empty() || authority.find(':') != std::string_view::npos) {
    int value = 0;
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), absl::ascii_isdigit)) {
      return "has an invalid port";
    }
    for (char c : port) value = value * 10 + (c - '0');
    if (value < 1 || value > 65535) return "has a port outside 1-65535";
  }
  return std::nullopt;
}

std::optional<std::string> ZoneProblem(std::string_view zone) {
  if (zone.empty() || zone.size() > JobLimits::kMaxTimezone || zone.front() == '/' ||
      zone.find("..") != std::string_view::npos || zone == "localtime" || zone == "Local" ||
      !std::all_of(zone.begin(), zone.end(), [](char c) {
        return IsAlnum(c) || c == '_' || c == '+' || c == '-' || c == '/';
      })) {
    return absl::StrCat("\"", Av(zone),
                        "\" is not an IANA time zone name (e.g. \"UTC\", \"Europe/Berlin\")");
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(Av(zone), &tz)) {
    return absl::StrCat("unknown time zone \"", Av(zone), "\"");
  }
  return std::nullopt;
}

// Checks `expr` in `zone` with the real parser; the parser's message names field and position.
std::optional<std::string> CronProblem(std::string_view expr, absl::TimeZone zone) {
  if (absl::StripAsciiWhitespace(Av(expr)).empty()) return "is required";
  auto schedule = cron::Schedule::Parse(expr, zone);
  if (!schedule.ok()) return std::string(schedule.status().message());
  return std::nullopt;
}

// Collects errors, skipping fields that already failed to decode (one message per field).
class Errors {
 public:
  Errors(std::vector<FieldError>* errors, std::set<std::string> skip)
      : errors_(errors), skip_(std::move(skip)) {}
  void Add(const std::string& field, std::string message) {
    if (skip_.contains(field)) return;
    errors_->push_back({field, std::move(message)});
  }
  bool Skipped(const std::string& field) const { return skip_.contains(field); }

 private:
  std::vector<FieldError>* errors_;
  std::set<std::string> skip_;
};

void CheckStringMap(const std::map<std::string, std::string>& map, const std::string& path,
                    Errors& errors) {
  if (map.size() > JobLimits::kMaxMapEntries) {
    errors.Add(path, absl::StrCat("at most ", JobLimits::kMaxMapEntries, " entries"));
  }
}

void CheckLabels(const std::map<std::string, std::string>& labels, const std::string& path,
                 Errors& errors) {
  CheckStringMap(labels, path, errors);
  for (const auto& [key, value] : labels) {
    const std::string field = absl::StrCat(path, ".", key);
    if (auto problem = LabelKeyProblem(key)) errors.Add(field, *problem);
    if (value.size() > JobLimits::kMaxLabelValue || HasControl(value)) {
      errors.Add(field, absl::StrCat("value must be at most ", JobLimits::kMaxLabelValue,
                                     " characters without control characters"));
    }
  }
}

// POSIX portable user names (plus '.', which Debian's adduser allows).
bool IsUserName(std::string_view name) {
  if (name.empty() || name.size() > JobLimits::kMaxUserName || name.front() == '-' ||
      name.front() == '.') {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; });
}

void Validate(const Job& job, Errors& errors) {
  if (job.name.empty()) errors.Add("name", "is required");
  if (job.description.size() > JobLimits::kMaxDescription) {
    errors.Add("description",
               absl::StrCat("must be at most ", JobLimits::kMaxDescription, " characters"));
  }

  absl::TimeZone zone = absl::UTCTimeZone();
  if (auto problem = ZoneProblem(job.timezone)) {
    errors.Add("timezone", *problem);
  } else {
    zone = job.Zone();
  }
  if (job.cron_expr.empty()) {
    errors.Add("cron_expr", "is required");
  } else if (auto problem = CronProblem(job.cron_expr, zone)) {
    errors.Add("cron_expr", *problem);
  }

  // Executor: the fields of the chosen type, and none of the other type's.
  const ExecutorSpec& ex = job.executor;
  const bool type_known = !errors.Skipped("executor_type");
  const bool shell = job.executor_type == ExecutorType::kShell;
  auto only_for = [&](const char* field, ExecutorType type) {
    errors.Add(absl::StrCat("executor.", field),
               absl::StrCat("only allowed with executor_type \"", Av(ToString(type)), "\""));
  };
  if (type_known && shell) {
    if (!ex.url.empty()) only_for("url", ExecutorType::kHttp);
    if (ex.method != "GET") only_for("method", ExecutorType::kHttp);
    if (!ex.headers.empty()) only_for("headers", ExecutorType::kHttp);
    if (!ex.body.empty()) only_for("body", ExecutorType::kHttp);
    if (!ex.expected_status.empty()) only_for("expected_status", ExecutorType::kHttp);
    if (!ex.secret_headers.empty()) only_for("secret_headers", ExecutorType::kHttp);
    if (!ex.run_as.empty() && !IsUserName(ex.run_as)) {
      errors.Add("executor.run_as",
                 absl::StrCat("must be a user name: letters, digits, '_', '-', '.', at most ",
                              JobLimits::kMaxUserName, " characters"));
    }
    for (const ShellLimits::Bounds& b : ShellLimits::kFields) {
      const std::optional<int64_t>& v = ex.limits.*b.member;
      if (v && (*v < b.min || *v > b.max)) {
        errors.Add(absl::StrCat("executor.limits.", b.name),
                   absl::StrCat("must be between ", b.min, " and ", b.max));
      }
    }
    if (ex.command.empty())
      errors.Add("executor.command", "is required for executor_type \"shell\"");
  }
  if (type_known && !shell) {
    if (!ex.command.empty()) only_for("command", ExecutorType::kShell);
    if (!ex.env.empty()) only_for("env", ExecutorType::kShell);
    if (!ex.cwd.empty()) only_for("cwd", ExecutorType::kShell);
    if (!ex.secret_env.empty()) only_for("secret_env", ExecutorType::kShell);
    if (!ex.run_as.empty()) only_for("run_as", ExecutorType::kShell);
    if (!ex.limits.empty()) only_for("limits", ExecutorType::kShell);
    if (ex.url.empty()) errors.Add("executor.url", "is required for executor_type \"http\"");
  }
  if (ex.command.size() > JobLimits::kMaxCommand) {
    errors.Add("executor.command",
               absl::StrCat("must be at most ", JobLimits::kMaxCommand, " bytes"));
  } else if (HasNul(ex.command)) {
    errors.Add("executor.command", "must not contain NUL bytes");
  }
  CheckStringMap(ex.env, "executor.env", errors);
  for (const auto& [key, value] : ex.env) {
    const bool good_key =
        !key.empty() && !absl::ascii_isdigit(static_cast<unsigned char>(key[0])) &&
        std::all_of(key.begin(), key.end(), [](char c) { return IsAlnum(c) || c == '_'; });
    if (!good_key) {
      errors.Add(absl::StrCat("executor.env.", key),
                 "variable names must match [A-Za-z_][A-Za-z0-9_]*");
    } else if (value.size() > JobLimits::kMaxEnvValue || HasNul(value)) {
      errors.Add(
          absl::StrCat("executor.env.", key),
          absl::StrCat("value must be at most ", JobLimits::kMaxEnvValue, " bytes without NUL"));
    }
  }
  if (!ex.cwd.empty() &&
      (ex.cwd.front() != '/' || HasNul(ex.cwd) || ex.cwd.size() > JobLimits::kMaxCwd)) {
    errors.Add("executor.cwd", "must be an absolute path");
  }
  if (!ex.url.empty()) {
    if (auto problem = UrlProblem(ex.url)) errors.Add("executor.url", *problem);
  }
  if (std::find(kMethods.begin(), kMethods.end(), ex.method) == kMethods.end()) {
    errors.Add("executor.method",
               absl::StrCat("must be one of ",
                            absl::StrJoin(
                                std::vector<std::string>(kMethods.begin(), kMethods.end()), ", ")));
  }
  CheckStringMap(ex.headers, "executor.headers", errors);
  for (const auto& [name, value] : ex.headers) {
    const std::string field = absl::StrCat("executor.headers.", name);
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsHeaderNameChar)) {
      errors.Add(field, "is not a valid HTTP header name");
    } else if (value.size() > JobLimits::kMaxHeaderValue ||
               std::any_of(value.begin(), value.end(),
                           [](char c) { return c == '\r' || c == '\n' || c == '\0'; })) {
      errors.Add(field, absl::StrCat("value must be at most ", JobLimits::kMaxHeaderValue,
                                     " bytes without CR, LF or NUL"));
    }
  }
  // Secret names must name something: a typo would silently leave a secret in the clear.
  for (size_t i = 0; i < ex.secret_env.size(); ++i) {
    const std::string& name = ex.secret_env[i];
    if (!ex.env.contains(name)) {
      errors.Add(Index("executor.secret_env", i),
                 absl::StrCat("\"", name, "\" is not a variable of executor.env"));
    } else if (std::find(ex.secret_env.begin(), ex.secret_env.begin() + static_cast<long>(i),
                         name) != ex.secret_env.begin() + static_cast<long>(i)) {
      errors.Add(Index("executor.secret_env", i), absl::StrCat("\"", name, "\" is listed twice"));
    }
  }
  for (size_t i = 0; i < ex.secret_headers.size(); ++i) {
    const std::string& name = ex.secret_headers[i];
    const bool present = std::any_of(ex.headers.begin(), ex.headers.end(), [&](const auto& h) {
      return absl::EqualsIgnoreCase(Av(h.first), Av(name));
    });
    if (!present) {
      errors.Add(Index("executor.secret_headers", i),
                 absl::StrCat("\"", name, "\" is not a header of executor.headers"));
    }
  }
  if (ex.body.size() > JobLimits::kMaxHttpBody) {
    errors.Add("executor.body",
               absl::StrCat("must be at most ", JobLimits::kMaxHttpBody, " bytes"));
  }
  for (size_t i = 0; i < ex.expected_status.size(); ++i) {
    if (ex.expected_status[i] < 100 || ex.expected_status[i] > 599) {
      errors.Add(Index("executor.expected_status", i), "must be an HTTP status code 100-599");
    }
  }

  const RetryPolicy& rp = job.retry_policy;
  if (rp.max_retries < 0 || rp.max_retries > RetryPolicy::kMaxRetries) {
    errors.Add("retry_policy.max_retries",
               absl::StrCat("must be between 0 and ", RetryPolicy::kMaxRetries));
  }
  if (rp.backoff.value < absl::ZeroDuration()) {
    errors.Add("retry_policy.backoff", "must not be negative");
  }
  if (rp.max_backoff) {
    if (rp.max_backoff->value <= absl::ZeroDuration()) {
      errors.Add("retry_policy.max_backoff", "must be positive");
    } else if (rp.max_backoff->value < rp.backoff.value) {
      errors.Add("retry_policy.max_backoff", "must not be shorter than retry_policy.backoff");
    }
  }
  if (job.timeout && job.timeout->value <= absl::ZeroDuration()) {
    errors.Add("timeout", "must be positive (omit it or use null for no timeout)");
  }
  if (job.starting_deadline.value < absl::ZeroDuration()) {
    errors.Add("starting_deadline", "must not be negative");
  }
  CheckLabels(job.labels, "labels", errors);
  CheckLabels(job.selector, "selector", errors);
  if (job.history_limit < 1 || job.history_limit > Job::kMaxHistoryLimit) {
    errors.Add("history_limit", absl::StrCat("must be between 1 and ", Job::kMaxHistoryLimit));
  }
}

// Reads a Go duration member into `out`; reports an error on a malformed string.
void ReadDuration(ObjectReader& r, std::string_view key, std::optional<GoDuration>* out) {
  auto text = r.String(key);
  if (!text) return;
  auto d = GoDuration::Parse(*text);
  if (!d.ok()) {
    r.AddError(r.Path(key), std::string(d.status().message()));
    return;
  }
  *out = *std::move(d);
}

template <typename Enum, size_t N>
void ReadEnum(ObjectReader& r, std::string_view key, const std::array<Enum, N>& values, Enum* out) {
  auto text = r.String(key);  // reports a wrong type itself
  if (!text) return;
  std::vector<std::string> names;
  for (Enum v : values) names.push_back(absl::StrCat("\"", Av(ToString(v)), "\""));
  for (Enum v : values) {
    if (*text == ToString(v)) {
      *out = v;
      return;
    }
  }
  r.AddError(r.Path(key),
             absl::StrCat("must be one of ", absl::StrJoin(names, ", "), ", got \"", *text, "\""));
}

void DecodeExecutor(const Json& object, bool strict, Job& job, std::vector<FieldError>* errors) {
  ObjectReader r(object, "executor", errors);
  ExecutorSpec& ex = job.executor;
  if (auto v = r.String("command")) ex.command = *v;
  if (auto v = r.StringMap("env")) ex.env = *v;
  if (auto v = r.String("cwd")) ex.cwd = *v;
  if (auto v = r.String("run_as")) ex.run_as = *v;
  if (const Json* limits = r.Object("limits")) {
    ObjectReader lr(*limits, "executor.limits", errors);
    for (const ShellLimits::Bounds& b : ShellLimits::kFields) ex.limits.*b.member = lr.Int(b.name);
    if (strict) lr.RejectUnknown();
  }
  if (auto v = r.String("url")) ex.url = *v;
  if (auto v = r.String("method")) ex.method = absl::AsciiStrToUpper(*v);
  if (auto v = r.StringMap("headers")) ex.headers = *v;
  if (auto v = r.String("body")) ex.body = *v;
  for (const char* key : {"secret_env", "secret_headers"}) {
    const Json* list = r.Array(key);
    if (list == nullptr) continue;
    std::vector<std::string>& names =
        std::string_view(key) == "secret_env" ? ex.secret_env : ex.secret_headers;
    const std::string path = absl::StrCat("executor.", key);
    for (size_t i = 0; i < list->size(); ++i) {
      if (!(*list)[i].is_string()) {
        r.AddError(Index(path, i), "must be a string");
        continue;
      }
      names.push_back((*list)[i].get<std::string>());
    }
  }
  if (const Json* list = r.Array("expected_status")) {
    for (size_t i = 0; i < list->size(); ++i) {
      auto code = AsInt((*list)[i]);
      if (!code || *code < 100 || *code > 599) {
        r.AddError(Index("executor.expected_status", i), "must be an HTTP status code 100-599");
        continue;
      }
      ex.expected_status.push_back(static_cast<int>(*code));
    }
  }
  if (strict) r.RejectUnknown();
}

void DecodeRetryPolicy(const Json& object, bool strict, Job& job, std::vector<FieldError>* errors) {
  ObjectReader r(object, "retry_policy", errors);
  RetryPolicy& rp = job.retry_policy;
  if (auto v = r.Int("max_retries")) {
    if (*v < 0 || *v > RetryPolicy::kMaxRetries) {
      r.AddError("retry_policy.max_retries",
                 absl::StrCat("must be between 0 and ", RetryPolicy::kMaxRetries));
    } else {
      rp.max_retries = static_cast<int>(*v);
    }
  }
  std::optional<GoDuration> backoff;
  ReadDuration(r, "backoff", &backoff);
  if (backoff) rp.backoff = *backoff;
  ReadEnum(r, "kind", std::array{BackoffKind::kFixed, BackoffKind::kExponential}, &rp.kind);
  ReadDuration(r, "max_backoff", &rp.max_backoff);
  // Exponential backoff is fully jittered unless told otherwise (synchronized retries of many
  // jobs hitting one recovering service is the classic thundering herd); fixed is exact, as v1.
  if (auto v = r.Bool("jitter")) {
    rp.jitter = *v;
  } else {
    rp.jitter = rp.kind == BackoffKind::kExponential;
  }
  if (strict) r.RejectUnknown();
}

// Decodes `json` into a Job and validates it; `stored` keeps the server-managed fields.
absl::StatusOr<Job> Decode(const Json& json, bool stored) {
  if (!json.is_object()) {
    return InvalidFieldsError(
        "invalid job",
        {{"", absl::StrCat("the body must be a JSON object, got ", Av(JsonTypeName(json)))}});
  }
  std::vector<FieldError> errors;
  Job job;
  ObjectReader r(json, "", &errors);
  if (auto name = r.String("name")) {
    auto parsed = JobName::Parse(*name);
    if (parsed.ok()) {
      job.name = *std::move(parsed);
    } else {
      r.AddError("name", std::string(parsed.status().message()));
    }
  }
  if (auto v = r.String("description")) job.description = *v;
  if (auto v = r.String("cron_expr")) job.cron_expr = *v;
  if (auto v = r.String("timezone")) job.timezone = *v;
  const size_t before_type = errors.size();
  ReadEnum(r, "executor_type", std::array{ExecutorType::kShell, ExecutorType::kHttp},
           &job.executor_type);
  const bool type_present = json.contains("executor_type") && !json["executor_type"].is_null();
  if (!type_present) r.AddError("executor_type", "is required (\"shell\" or \"http\")");
  const bool type_ok = type_present && errors.size() == before_type;
  if (const Json* ex = r.Object("executor")) DecodeExecutor(*ex, !stored, job, &errors);
  ReadEnum(r, "concurrency_policy",
           std::array{ConcurrencyPolicy::kAllow, ConcurrencyPolicy::kForbid,
                      ConcurrencyPolicy::kReplace},
           &job.concurrency_policy);
  if (const Json* rp = r.Object("retry_policy")) DecodeRetryPolicy(*rp, !stored, job, &errors);
  ReadDuration(r, "timeout", &job.timeout);
  std::optional<GoDuration> deadline;
  ReadDuration(r, "starting_deadline", &deadline);
  if (deadline) job.starting_deadline = *deadline;
  if (auto v = r.Bool("paused")) job.paused = *v;
  if (auto v = r.Bool("retry_on_worker_loss")) job.retry_on_worker_loss = *v;
  if (auto v = r.StringMap("labels")) job.labels = *v;
  if (auto v = r.StringMap("selector")) job.selector = *v;
  if (auto v = r.Int("history_limit")) {
    if (*v < 1 || *v > Job::kMaxHistoryLimit) {
      r.AddError("history_limit", absl::StrCat("must be between 1 and ", Job::kMaxHistoryLimit));
    } else {
      job.history_limit = static_cast<int>(*v);
    }
  }
  if (stored) {
    if (auto v = r.String("id")) job.id = *v;
    job.created_at = r.Time("created_at");
    job.updated_at = r.Time("updated_at");
    r.Ignore("next_run");
    r.Ignore("last_execution");
  } else {
    for (std::string_view key : kReadOnly) r.Ignore(key);
    r.RejectUnknown();
  }

  std::set<std::string> skip;
  for (const FieldError& e : errors) skip.insert(e.field);
  if (!type_ok) skip.insert("executor_type");
  Errors checks(&errors, std::move(skip));
  Validate(job, checks);
  if (!errors.empty()) return InvalidFieldsError("invalid job", errors);
  return job;
}

Json EncodeMap(const std::map<std::string, std::string>& map) {
  Json out = Json::object();
  for (const auto& [k, v] : map) out[k] = v;
  return out;
}

Json OptionalTime(const std::optional<absl::Time>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

}  // namespace

const std::array<ShellLimits::Bounds, 4> ShellLimits::kFields = {{
    {"cpu_seconds", &ShellLimits::cpu_seconds, 1, 7 * 24 * 3600},
    {"memory_mb", &ShellLimits::memory_mb, 8, 1 << 20},
    {"open_files", &ShellLimits::open_files, 8, 1 << 20},
    {"processes", &ShellLimits::processes, 1, 1 << 20},
}};

std::string_view ToString(ExecutorType type) {
  return type == ExecutorType::kShell ? "shell" : "http";
}

std::string_view ToString(ConcurrencyPolicy policy) {
  switch (policy) {
    case ConcurrencyPolicy::kAllow:
      return "Allow";
    case ConcurrencyPolicy::kForbid:
      return "Forbid";
    case ConcurrencyPolicy::kReplace:
      return "Replace";
  }
  return "Allow";
}

std::string_view ToString(BackoffKind kind) {
  return kind == BackoffKind::kFixed ? "fixed" : "exponential";
}

absl::StatusOr<GoDuration> GoDuration::Parse(std::string_view text) {
  HG_ASSIGN_OR_RETURN(absl::Duration value, ParseGoDuration(text));
  return GoDuration{std::string(text), value};
}

GoDuration GoDuration::Of(absl::Duration value) { return {FormatGoDuration(value), value}; }

absl::Duration RetryPolicy::DelayBefore(int retry) const {
  if (kind == BackoffKind::kFixed || retry <= 1) return backoff.value;
  absl::Duration delay = backoff.value;
  for (int i = 1; i < retry && i < 64; ++i) {
    delay *= 2;
    if (max_backoff && delay >= max_backoff->value) return max_backoff->value;
  }
  if (max_backoff && delay > max_backoff->value) return max_backoff->value;
  return delay;
}

absl::StatusOr<cron::Schedule> Job::Schedule() const {
  return cron::Schedule::Parse(cron_expr, Zone());
}

absl::TimeZone Job::Zone() const {
  absl::TimeZone tz;
  if (ZoneProblem(timezone) || !absl::LoadTimeZone(Av(timezone), &tz)) return absl::UTCTimeZone();
  return tz;
}

absl::StatusOr<absl::TimeZone> ParseTimeZone(std::string_view name) {
  if (auto problem = ZoneProblem(name)) return absl::InvalidArgumentError(*problem);
  absl::TimeZone tz;
  absl::LoadTimeZone(Av(name), &tz);
  return tz;
}

absl::StatusOr<Job> DecodeJobRequest(const Json& json) { return Decode(json, /*stored=*/false); }

absl::StatusOr<Job> ParseJobRequest(std::string_view body) {
  HG_ASSIGN_OR_RETURN(Json json, ParseJson(body));
  return DecodeJobRequest(json);
}

absl::StatusOr<Job> ParseStoredJob(std::string_view text) {
  HG_ASSIGN_OR_RETURN(Json json, ParseJson(text));
  return Decode(json, /*stored=*/true);
}

absl::Status ValidateJob(const Job& job) {
  std::vector<FieldError> errors;
  Errors checks(&errors, {});
  Validate(job, checks);
  if (!errors.empty()) return InvalidFieldsError("invalid job", errors);
  return absl::OkStatus();
}

Json EncodeJob(const Job& job) {
  Json out = Json::object();
  out["id"] = job.id;
  out["name"] = job.name.str();
  out["description"] = job.description;
  out["cron_expr"] = job.cron_expr;
  out["timezone"] = job.timezone;
  out["executor_type"] = ToString(job.executor_type);
  Json ex = Json::object();
  if (job.executor_type == ExecutorType::kShell) {
    ex["command"] = job.executor.command;
    ex["env"] = EncodeMap(job.executor.env);
    ex["cwd"] = job.executor.cwd;
    if (!job.executor.secret_env.empty()) ex["secret_env"] = job.executor.secret_env;
    if (!job.executor.run_as.empty()) ex["run_as"] = job.executor.run_as;
    if (!job.executor.limits.empty()) {
      Json limits = Json::object();
      for (const ShellLimits::Bounds& b : ShellLimits::kFields) {
        if (const auto& v = job.executor.limits.*b.member) limits[b.name] = *v;
      }
      ex["limits"] = std::move(limits);
    }
  } else {
    ex["url"] = job.executor.url;
    ex["method"] = job.executor.method;
    ex["headers"] = EncodeMap(job.executor.headers);
    ex["body"] = job.executor.body;
    ex["expected_status"] = job.executor.expected_status;
    if (!job.executor.secret_headers.empty()) ex["secret_headers"] = job.executor.secret_headers;
  }
  out["executor"] = std::move(ex);
  out["concurrency_policy"] = ToString(job.concurrency_policy);
  const RetryPolicy& rp = job.retry_policy;
  out["retry_policy"] = {
      {"max_retries", rp.max_retries},
      {"backoff", rp.backoff.text},
      {"kind", ToString(rp.kind)},
      {"max_backoff", rp.max_backoff ? Json(rp.max_backoff->text) : Json(nullptr)},
      {"jitter", rp.jitter},
  };
  out["timeout"] = job.timeout ? Json(job.timeout->text) : Json(nullptr);
  out["starting_deadline"] = job.starting_deadline.text;
  out["paused"] = job.paused;
  out["retry_on_worker_loss"] = job.retry_on_worker_loss;
  out["labels"] = EncodeMap(job.labels);
  out["selector"] = EncodeMap(job.selector);
  out["history_limit"] = job.history_limit;
  out["created_at"] = OptionalTime(job.created_at);
  out["updated_at"] = OptionalTime(job.updated_at);
  return out;
}

std::string SerializeJob(const Job& job) { return DumpJson(EncodeJob(job)); }

Json EncodeJobResponse(const Job& job, const JobStatus& status) {
  Json out = EncodeJob(job);
  out["next_run"] = OptionalTime(status.next_run);
  out["last_execution"] =
      status.last_execution ? EncodeExecutionSummary(*status.last_execution) : Json(nullptr);
  return out;
}

}  // namespace hg::model
