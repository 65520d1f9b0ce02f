#include "model/job.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/field_errors.h"
#include "tests/model/v1_examples.h"

namespace hg::model {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using ::hg::testing::kV1HttpJob;
using ::hg::testing::kV1ShellJob;

// The field errors of a body that must be rejected.
std::vector<FieldError> ErrorsOf(const std::string& body) {
  auto job = ParseJobRequest(body);
  EXPECT_FALSE(job.ok()) << body;
  if (job.ok()) return {};
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  return FieldErrorsOf(job.status());
}

// A valid shell job with `extra` members spliced in (e.g. R"("timeout": "5s")").
std::string Shell(const std::string& extra = "", const std::string& executor_extra = "") {
  return R"({"name":"j","cron_expr":"* * * * * *","executor_type":"shell","executor":{"command":"true")" +
         (executor_extra.empty() ? "" : "," + executor_extra) + "}" +
         (extra.empty() ? "" : "," + extra) + "}";
}
std::string Http(const std::string& extra = "", const std::string& executor_extra = "") {
  return R"({"name":"h","cron_expr":"* * * * * *","executor_type":"http","executor":{"url":"http://example.com/x")" +
         (executor_extra.empty() ? "" : "," + executor_extra) + "}" +
         (extra.empty() ? "" : "," + extra) + "}";
}

FieldError E(std::string field, std::string message) {
  return {std::move(field), std::move(message)};
}

TEST(JobTest, V1ShellExample) {
  auto job = ParseJobRequest(kV1ShellJob);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->name.str(), "my-first-shell-job");
  EXPECT_EQ(job->cron_expr, "*/10 * * * * *");
  EXPECT_EQ(job->executor_type, ExecutorType::kShell);
  EXPECT_EQ(job->executor.command, "echo Hello from a distributed cron job on $(date)");
  EXPECT_EQ(job->concurrency_policy, ConcurrencyPolicy::kForbid);
  EXPECT_EQ(job->retry_policy.max_retries, 3);
  EXPECT_EQ(job->retry_policy.backoff.text, "5s");
  EXPECT_EQ(job->retry_policy.backoff.value, absl::Seconds(5));
  // Defaults of everything the v1 body does not mention.
  EXPECT_EQ(job->timezone, "UTC");
  EXPECT_EQ(job->starting_deadline.text, "60s");
  EXPECT_EQ(job->history_limit, 100);
  EXPECT_FALSE(job->paused);
  EXPECT_FALSE(job->timeout);
  EXPECT_EQ(job->retry_policy.kind, BackoffKind::kFixed);
}

TEST(JobTest, V1HttpExample) {
  auto job = ParseJobRequest(kV1HttpJob);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->executor_type, ExecutorType::kHttp);
  EXPECT_EQ(job->executor.url, "https://httpbin.org/get");
  EXPECT_EQ(job->executor.method, "GET");
  EXPECT_EQ(job->concurrency_policy, ConcurrencyPolicy::kAllow);
  EXPECT_EQ(job->retry_policy.max_retries, 0);
}

TEST(JobTest, EncodesV1FieldsAndExtensions) {
  Job job = *ParseJobRequest(kV1ShellJob);
  job.id = "0123";
  job.created_at = absl::FromUnixSeconds(1772938800);
  job.updated_at = absl::FromUnixSeconds(1772938801);
  EXPECT_EQ(
      SerializeJob(job),
      R"({"id":"0123","name":"my-first-shell-job","description":"","cron_expr":"*/10 * * * * *",)"
      R"("timezone":"UTC","executor_type":"shell","executor":{"command":"echo Hello from a )"
      R"j(distributed cron job on $(date)","env":{},"cwd":""},"concurrency_policy":"Forbid",)j"
      R"("retry_policy":{"max_retries":3,"backoff":"5s","kind":"fixed","max_backoff":null,)"
      R"("jitter":false},"timeout":null,"starting_deadline":"60s","paused":false,)"
      R"("retry_on_worker_loss":true,"labels":{},)"
      R"("selector":{},"history_limit":100,"created_at":"2026-03-08T03:00:00Z",)"
      R"("updated_at":"2026-03-08T03:00:01Z"})");
  Job http = *ParseJobRequest(kV1HttpJob);
  EXPECT_EQ(EncodeJob(http)["executor"].dump(),
            R"({"url":"https://httpbin.org/get","method":"GET","headers":{},"body":"",)"
            R"("expected_status":[]})");
}

TEST(JobTest, StoredRoundTripKeepsEverything) {
  auto job = ParseJobRequest(Http(
      R"("description":"d","timezone":"Europe/Berlin","concurrency_policy":"Replace",)"
      R"("retry_policy":{"max_retries":10,"backoff":"1.5s","kind":"exponential","max_backoff":"1m30s","jitter":true},)"
      R"("timeout":"90s","starting_deadline":"0","paused":true,"labels":{"team":"ops","a.b/c":""},)"
      R"("selector":{"zone":"eu-1"},"history_limit":10000)",
      R"("method":"post","headers":{"X-Token":"t"},"body":"{}","expected_status":[200,204])"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->executor.method, "POST");
  EXPECT_EQ(job->retry_policy.max_backoff->value, absl::Seconds(90));
  EXPECT_EQ(job->starting_deadline.text, "0");
  job->id = "abc";
  job->created_at = absl::FromUnixMillis(1772938800123);
  job->updated_at = absl::FromUnixMillis(1772938800456);
  auto back = ParseStoredJob(SerializeJob(*job));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, *job);
  // Durations are echoed as sent, not normalized.
  EXPECT_EQ(EncodeJob(*back)["retry_policy"]["max_backoff"], "1m30s");
  EXPECT_EQ(EncodeJob(*back)["retry_policy"]["backoff"], "1.5s");
}

TEST(JobTest, RunAsAndLimitsRoundTripAndAreValidated) {
  auto job = ParseJobRequest(
      Shell("", R"("run_as":"deploy","limits":{"cpu_seconds":60,"memory_mb":512,"processes":64})"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->executor.run_as, "deploy");
  EXPECT_EQ(job->executor.limits,
            (ShellLimits{.cpu_seconds = 60, .memory_mb = 512, .processes = 64}));
  EXPECT_EQ(EncodeJob(*job)["executor"]["limits"],
            Json::parse(R"({"cpu_seconds":60,"memory_mb":512,"processes":64})"));
  auto back = ParseStoredJob(SerializeJob(*job));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, *job);
  // Absent: not encoded (older readers and exact-JSON clients see what they saw before).
  EXPECT_FALSE(EncodeJob(*ParseJobRequest(Shell()))["executor"].contains("limits"));
  EXPECT_FALSE(EncodeJob(*ParseJobRequest(Shell()))["executor"].contains("run_as"));

  EXPECT_THAT(ErrorsOf(Shell("", R"("run_as":"ro ot")")),
              ElementsAre(E("executor.run_as",
                            "must be a user name: letters, digits, '_', '-', '.', at most 32 "
                            "characters")));
  EXPECT_THAT(ErrorsOf(Shell("", R"("limits":{"cpu_seconds":0,"memory_mb":1,"open_files":"x"})")),
              ElementsAre(E("executor.limits.open_files", "must be an integer, got a string"),
                          E("executor.limits.cpu_seconds", "must be between 1 and 604800"),
                          E("executor.limits.memory_mb", "must be between 8 and 1048576")));
  EXPECT_THAT(ErrorsOf(Shell("", R"("limits":{"cpu":1})")),
              ElementsAre(E("executor.limits.cpu", "unknown field")));
  EXPECT_THAT(ErrorsOf(Http("", R"("run_as":"x","limits":{"processes":5})")),
              ElementsAre(E("executor.run_as", "only allowed with executor_type \"shell\""),
                          E("executor.limits", "only allowed with executor_type \"shell\"")));
}

TEST(JobTest, ResponseRoundTripsThroughARequest) {
  Job job = *ParseJobRequest(kV1ShellJob);
  job.id = "abc";
  job.created_at = absl::FromUnixSeconds(1);
  std::mt19937 rng(1);
  JobStatus status{.next_run = absl::FromUnixSeconds(1772938810),
                   .last_execution = NewExecution(job.name, absl::FromUnixSeconds(1772938800),
                                                  Trigger::kSchedule, 3, rng)};
  Json response = EncodeJobResponse(job, status);
  EXPECT_EQ(response["next_run"], "2026-03-08T03:00:10Z");
  EXPECT_EQ(response["last_execution"]["status"], "scheduled");
  // GET -> PUT: the read-only members are ignored, the rest decodes to the same job.
  auto again = DecodeJobRequest(response);
  ASSERT_TRUE(again.ok()) << again.status();
  Job expected = job;
  expected.id.clear();
  expected.created_at.reset();
  EXPECT_EQ(*again, expected);
  EXPECT_EQ(EncodeJobResponse(job, {})["last_execution"], nullptr);
}

TEST(JobTest, InvalidJsonNamesThePosition) {
  auto job = ParseJobRequest("{\"name\": \"a\",\n \"cron_expr\": }");
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(job.status().message()),
              ::testing::StartsWith("invalid JSON: parse error at line 2, column 15"));
  EXPECT_THAT(FieldErrorsOf(job.status()), IsEmpty());
}

TEST(JobTest, BodyMustBeAnObject) {
  EXPECT_THAT(ErrorsOf("[]"), ElementsAre(E("", "the body must be a JSON object, got an array")));
  EXPECT_THAT(ErrorsOf("null"), ElementsAre(E("", "the body must be a JSON object, got null")));
}

TEST(JobTest, ReportsEveryMissingFieldAtOnce) {
  EXPECT_THAT(ErrorsOf("{}"), ElementsAre(E("executor_type", "is required (\"shell\" or \"http\")"),
                                          E("name", "is required"), E("cron_expr", "is required")));
}

TEST(JobTest, WrongTypesArePerField) {
  EXPECT_THAT(ErrorsOf(R"({"name":1,"cron_expr":true,"executor_type":"shell","executor":"x",)"
                       R"("retry_policy":[],"paused":"yes","labels":{"a":1},"history_limit":1.5})"),
              ElementsAre(E("name", "must be a string, got an integer"),
                          E("cron_expr", "must be a string, got a boolean"),
                          E("executor", "must be an object, got a string"),
                          E("retry_policy", "must be an object, got an array"),
                          E("paused", "must be a boolean (true or false), got a string"),
                          E("labels.a", "must be a string, got an integer"),
                          E("history_limit", "must be an integer, got a fractional number"),
                          E("executor.command", "is required for executor_type \"shell\"")));
  EXPECT_THAT(ErrorsOf(Shell(R"("retry_policy":{"max_retries":"3"})")),
              ElementsAre(E("retry_policy.max_retries", "must be an integer, got a string")));
  EXPECT_THAT(ErrorsOf(Shell(R"("history_limit":18446744073709551615)")),
              ElementsAre(E("history_limit", "integer out of range")));
}

TEST(JobTest, UnknownFieldsAtAnyLevel) {
  EXPECT_THAT(ErrorsOf(Shell(R"("colour":"red","retry_policy":{"tries":1})", R"("shell":"bash")")),
              ElementsAre(E("executor.shell", "unknown field"),
                          E("retry_policy.tries", "unknown field"), E("colour", "unknown field")));
}

TEST(JobTest, ReadOnlyFieldsAreIgnored) {
  auto job = ParseJobRequest(Shell(
      R"("id":"x","created_at":"garbage","updated_at":5,"next_run":null,"last_execution":{"a":1})"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->id, "");
  EXPECT_FALSE(job->created_at);
}

TEST(JobTest, NullMeansDefault) {
  auto job = ParseJobRequest(Shell(R"("timeout":null,"labels":null,"timezone":null)"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->timezone, "UTC");
}

TEST(JobTest, NameRules) {
  EXPECT_THAT(
      ErrorsOf(
          R"({"name":"a/b","cron_expr":"* * * * * *","executor_type":"shell","executor":{"command":"x"}})"),
      ElementsAre(E("name",
                    "name contains '/' at position 2; any character but '/' and control "
                    "characters is allowed")));
  EXPECT_THAT(
      ErrorsOf(
          R"({"name":"","cron_expr":"* * * * * *","executor_type":"shell","executor":{"command":"x"}})"),
      ElementsAre(E("name", "name must not be empty")));
}

TEST(JobTest, EnumsNameTheirValues) {
  EXPECT_THAT(
      ErrorsOf(
          R"({"name":"j","cron_expr":"* * * * * *","executor_type":"ftp","executor":{"command":"x"}})"),
      ElementsAre(E("executor_type", "must be one of \"shell\", \"http\", got \"ftp\"")));
  EXPECT_THAT(ErrorsOf(Shell(R"("concurrency_policy":"forbid")")),
              ElementsAre(E("concurrency_policy",
                            "must be one of \"Allow\", \"Forbid\", \"Replace\", got \"forbid\"")));
  EXPECT_THAT(ErrorsOf(Shell(R"("retry_policy":{"kind":"linear"})")),
              ElementsAre(E("retry_policy.kind",
                            "must be one of \"fixed\", \"exponential\", got \"linear\"")));
}

TEST(JobTest, ShellNeedsCommandHttpNeedsUrl) {
  EXPECT_THAT(ErrorsOf(R"({"name":"j","cron_expr":"* * * * * *","executor_type":"shell"})"),
              ElementsAre(E("executor.command", "is required for executor_type \"shell\"")));
  EXPECT_THAT(
      ErrorsOf(
          R"({"name":"j","cron_expr":"* * * * * *","executor_type":"http","executor":{"command":"x"}})"),
      ElementsAre(E("executor.command", "only allowed with executor_type \"shell\""),
                  E("executor.url", "is required for executor_type \"http\"")));
}

TEST(JobTest, FieldsOfTheOtherExecutorTypeAreRejected) {
  EXPECT_THAT(
      ErrorsOf(Shell(
          "",
          R"("url":"http://x","method":"POST","headers":{"A":"b"},"body":"x","expected_status":[200])")),
      ElementsAre(E("executor.url", "only allowed with executor_type \"http\""),
                  E("executor.method", "only allowed with executor_type \"http\""),
                  E("executor.headers", "only allowed with executor_type \"http\""),
                  E("executor.body", "only allowed with executor_type \"http\""),
                  E("executor.expected_status", "only allowed with executor_type \"http\"")));
  EXPECT_THAT(ErrorsOf(Http("", R"("env":{"A":"b"},"cwd":"/tmp")")),
              ElementsAre(E("executor.env", "only allowed with executor_type \"shell\""),
                          E("executor.cwd", "only allowed with executor_type \"shell\"")));
  // Empty / default values of the other type are fine (a v1 client may send them).
  EXPECT_TRUE(ParseJobRequest(Shell("", R"("url":"","method":"GET")")).ok());
  EXPECT_TRUE(ParseJobRequest(Http("", R"("command":"")")).ok());
}

TEST(JobTest, UrlRules) {
  auto url_error = [](const std::string& url) {
    auto errors = ErrorsOf(
        R"({"name":"h","cron_expr":"* * * * * *","executor_type":"http","executor":{"url":")" +
        url + R"("}})");
    return errors.size() == 1 && errors[0].field == "executor.url" ? errors[0].message : "?";
  };
  EXPECT_EQ(url_error("ftp://x/"), "scheme \"ftp\" is not supported (use http or https)");
  EXPECT_EQ(url_error("example.com"), "must be an absolute http:// or https:// URL");
  EXPECT_EQ(url_error("http:///path"), "must name a host");
  EXPECT_EQ(url_error("http://a b/"), "must not contain spaces or control characters");
  EXPECT_EQ(url_error("http://host:99999/"), "has a port outside 1-65535");
  EXPECT_EQ(url_error("http://host:x/"), "has an invalid port");
  EXPECT_EQ(url_error("http://host:/"), "has an invalid port");
  EXPECT_EQ(url_error("http://[::1/"), "has an unterminated IPv6 address");
  for (const char* good : {"http://example.com", "HTTPS://example.com:8443/a?b=c#d",
                           "http://user:pw@host/", "http://[::1]:8080/x", "http://127.0.0.1/"}) {
    EXPECT_TRUE(
        ParseJobRequest(
            R"({"name":"h","cron_expr":"* * * * * *","executor_type":"http","executor":{"url":")" +
            std::string(good) + R"("}})")
            .ok())
        << good;
  }
}

TEST(JobTest, HttpExecutorRules) {
  EXPECT_THAT(ErrorsOf(Http("", R"("method":"BREW")")),
              ElementsAre(E("executor.method",
                            "must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")));
  EXPECT_THAT(ErrorsOf(Http("", R"("headers":{"Bad Name":"x","X-Ok":"a\r\nInjected: 1"})")),
              ElementsAre(E("executor.headers.Bad Name", "is not a valid HTTP header name"),
                          E("executor.headers.X-Ok",
                            "value must be at most 8192 bytes without CR, LF or NUL")));
  EXPECT_THAT(ErrorsOf(Http("", R"("expected_status":[200,99,"x",600])")),
              ElementsAre(E("executor.expected_status[1]", "must be an HTTP status code 100-599"),
                          E("executor.expected_status[2]", "must be an HTTP status code 100-599"),
                          E("executor.expected_status[3]", "must be an HTTP status code 100-599")));
  EXPECT_THAT(ErrorsOf(Http("", R"("expected_status":200)")),
              ElementsAre(E("executor.expected_status", "must be an array, got an integer")));
}

TEST(JobTest, ShellExecutorRules) {
  EXPECT_THAT(ErrorsOf(Shell("", R"("env":{"1X":"a","OK_1":"b","A-B":"c"},"cwd":"tmp")")),
              ElementsAre(E("executor.env.1X", "variable names must match [A-Za-z_][A-Za-z0-9_]*"),
                          E("executor.env.A-B", "variable names must match [A-Za-z_][A-Za-z0-9_]*"),
                          E("executor.cwd", "must be an absolute path")));
  EXPECT_THAT(
      ErrorsOf(
          R"({"name":"j","cron_expr":"* * * * * *","executor_type":"shell","executor":{"command":"a\u0000b"}})"),
      ElementsAre(E("executor.command", "must not contain NUL bytes")));
}

TEST(JobTest, RetryPolicyRules) {
  EXPECT_THAT(ErrorsOf(Shell(R"("retry_policy":{"max_retries":11})")),
              ElementsAre(E("retry_policy.max_retries", "must be between 0 and 10")));
  EXPECT_THAT(ErrorsOf(Shell(R"("retry_policy":{"max_retries":-1})")),
              ElementsAre(E("retry_policy.max_retries", "must be between 0 and 10")));
  EXPECT_THAT(ErrorsOf(Shell(R"("retry_policy":{"backoff":"5 seconds"})")),
              ElementsAre(E("retry_policy.backoff",
                            "invalid duration \"5 seconds\": unknown unit in \" seconds\"")));
  EXPECT_THAT(ErrorsOf(Shell(R"("retry_policy":{"backoff":"-1s"})")),
              ElementsAre(E("retry_policy.backoff", "must not be negative")));
  EXPECT_THAT(
      ErrorsOf(Shell(R"("retry_policy":{"backoff":"10s","max_backoff":"5s"})")),
      ElementsAre(E("retry_policy.max_backoff", "must not be shorter than retry_policy.backoff")));
  EXPECT_THAT(ErrorsOf(Shell(R"("retry_policy":{"max_backoff":"0s"})")),
              ElementsAre(E("retry_policy.max_backoff", "must be positive")));
  EXPECT_THAT(
      ErrorsOf(Shell(R"("retry_policy":{"jitter":1})")),
      ElementsAre(E("retry_policy.jitter", "must be a boolean (true or false), got an integer")));
}

TEST(JobTest, DurationAndLimitRules) {
  EXPECT_THAT(ErrorsOf(Shell(R"("timeout":"0s","starting_deadline":"-5s","history_limit":0)")),
              ElementsAre(E("history_limit", "must be between 1 and 10000"),
                          E("timeout", "must be positive (omit it or use null for no timeout)"),
                          E("starting_deadline", "must not be negative")));
  EXPECT_THAT(ErrorsOf(Shell(R"("timeout":30)")),
              ElementsAre(E("timeout", "must be a string, got an integer")));
  EXPECT_THAT(ErrorsOf(Shell(R"("history_limit":10001)")),
              ElementsAre(E("history_limit", "must be between 1 and 10000")));
}

TEST(JobTest, TimezoneRules) {
  EXPECT_TRUE(ParseJobRequest(Shell(R"("timezone":"America/New_York")")).ok());
  EXPECT_THAT(ErrorsOf(Shell(R"("timezone":"Mars/Olympus")")),
              ElementsAre(E("timezone", "unknown time zone \"Mars/Olympus\"")));
  for (const char* bad : {"../../etc/passwd", "/etc/localtime", "localtime", ""}) {
    auto errors = ErrorsOf(Shell(std::string(R"("timezone":")") + bad + "\""));
    ASSERT_EQ(errors.size(), 1u) << bad;
    EXPECT_EQ(errors[0].field, "timezone");
    EXPECT_THAT(errors[0].message, ::testing::HasSubstr("is not an IANA time zone name")) << bad;
  }
}

TEST(JobTest, LabelAndSelectorRules) {
  EXPECT_THAT(ErrorsOf(Shell(R"("labels":{"-x":"a","ok":"b"},"selector":{"a b":"c"})")),
              ElementsAre(E("labels.-x", "key must start and end with a letter or digit"),
                          E("selector.a b",
                            "key may contain only letters, digits, '.', '_', '-' and '/'")));
  EXPECT_THAT(ErrorsOf(Shell(R"("labels":{"k":")" + std::string(257, 'v') + "\"}")),
              ElementsAre(E("labels.k",
                            "value must be at most 256 characters without control "
                            "characters")));
  std::string many;
  for (int i = 0; i < 65; ++i) many += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":\"v\"");
  EXPECT_THAT(ErrorsOf(Shell("\"labels\":{" + many + "}")),
              ElementsAre(E("labels", "at most 64 entries")));
}

TEST(JobTest, ValidateJobBuiltInCode) {
  Job job;
  EXPECT_THAT(FieldErrorsOf(ValidateJob(job)),
              ElementsAre(E("name", "is required"), E("cron_expr", "is required"),
                          E("executor.command", "is required for executor_type \"shell\"")));
  job = *ParseJobRequest(kV1ShellJob);
  EXPECT_TRUE(ValidateJob(job).ok());
  job.retry_policy.max_retries = 42;
  EXPECT_THAT(FieldErrorsOf(ValidateJob(job)),
              ElementsAre(E("retry_policy.max_retries", "must be between 0 and 10")));
}

TEST(JobTest, RetryDelays) {
  RetryPolicy fixed;
  fixed.backoff = GoDuration::Of(absl::Seconds(5));
  EXPECT_EQ(fixed.DelayBefore(1), absl::Seconds(5));
  EXPECT_EQ(fixed.DelayBefore(4), absl::Seconds(5));
  RetryPolicy exp = fixed;
  exp.kind = BackoffKind::kExponential;
  EXPECT_EQ(exp.DelayBefore(1), absl::Seconds(5));
  EXPECT_EQ(exp.DelayBefore(3), absl::Seconds(20));
  exp.max_backoff = GoDuration::Of(absl::Seconds(30));
  EXPECT_EQ(exp.DelayBefore(4), absl::Seconds(30));
  EXPECT_EQ(exp.DelayBefore(1000), absl::Seconds(30));
}

TEST(JobTest, GoDurationKeepsText) {
  auto d = GoDuration::Parse("1h30m");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->text, "1h30m");
  EXPECT_EQ(d->value, absl::Minutes(90));
  EXPECT_EQ(GoDuration::Of(absl::Seconds(90)).text, "1m30s");
  EXPECT_FALSE(GoDuration::Parse("").ok());
}

}  // namespace
}  // namespace hg::model

namespace hg::model {
namespace {

TEST(JobCronTest, CronExpressionIsParsed) {
  auto errors = ErrorsOf(
      R"({"name":"j","cron_expr":"0 0 24 * * *","executor_type":"shell","executor":{"command":"x"}})");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "cron_expr");
  EXPECT_THAT(errors[0].message, ::testing::HasSubstr("24"));
  EXPECT_THAT(
      ErrorsOf(
          R"({"name":"j","cron_expr":"   ","executor_type":"shell","executor":{"command":"x"}})"),
      ElementsAre(E("cron_expr", "is required")));
  for (const char* ok : {"*/10 * * * * *", "0 3 * * *", "@daily", "@every 90s"}) {
    EXPECT_TRUE(ParseJobRequest(std::string(R"({"name":"j","cron_expr":")") + ok +
                                R"(","executor_type":"shell","executor":{"command":"x"}})")
                    .ok())
        << ok;
  }
}

TEST(JobCronTest, ScheduleUsesTheJobsZone) {
  auto job = ParseJobRequest(
      R"({"name":"j","cron_expr":"0 0 3 * * *","timezone":"Europe/Berlin","executor_type":"shell","executor":{"command":"x"}})");
  ASSERT_TRUE(job.ok()) << job.status();
  auto schedule = job->Schedule();
  ASSERT_TRUE(schedule.ok()) << schedule.status();
  // 03:00 in Berlin on 2026-01-15 is 02:00 UTC.
  EXPECT_EQ(schedule->Next(absl::FromUnixSeconds(1768435200)),  // 2026-01-15T00:00:00Z
            absl::FromUnixSeconds(1768435200 + 2 * 3600));
}

}  // namespace
}  // namespace hg::model

namespace hg::model {
namespace {

TEST(JobStoredTest, StoredRecordsTolerateUnknownMembers) {
  Job job = *ParseJobRequest(kV1ShellJob);
  Json stored = EncodeJob(job);
  stored["added_later"] = 1;
  stored["executor"]["added_later"] = true;
  stored["retry_policy"]["added_later"] = "x";
  auto back = ParseStoredJob(DumpJson(stored));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, job);
}

TEST(JobStoredTest, ParseTimeZone) {
  EXPECT_TRUE(ParseTimeZone("Asia/Tokyo").ok());
  EXPECT_EQ(ParseTimeZone("Nowhere/City").status().message(), "unknown time zone \"Nowhere/City\"");
  EXPECT_EQ(ParseTimeZone("../x").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hg::model

namespace hg::model {
namespace {

TEST(JobTest, ExponentialBackoffIsJitteredUnlessToldOtherwise) {
  auto parse = [](const std::string& retry) {
    auto job = ParseJobRequest(R"({"name":"j","cron_expr":"* * * * * *","executor_type":"shell",)"
                               R"("executor":{"command":"true"},"retry_policy":)" +
                               retry + "}");
    EXPECT_TRUE(job.ok()) << job.status();
    return job->retry_policy.jitter;
  };
  EXPECT_TRUE(parse(R"({"max_retries":3,"backoff":"1s","kind":"exponential"})"));
  EXPECT_FALSE(parse(R"({"max_retries":3,"backoff":"1s","kind":"exponential","jitter":false})"));
  EXPECT_FALSE(parse(R"({"max_retries":3,"backoff":"5s"})"));  // v1 fixed backoff stays exact
  EXPECT_TRUE(parse(R"({"max_retries":3,"backoff":"5s","kind":"fixed","jitter":true})"));
}

}  // namespace
}  // namespace hg::model
