#include "model/secrets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/field_errors.h"

namespace hg::model {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RedactorTest, MasksEveryOccurrenceLongestFirst) {
  Redactor r({"s3cr3t", "s3cr3t-token", ""});
  EXPECT_EQ(r.secrets().size(), 2u);  // the empty one is dropped
  EXPECT_EQ(r.Redact("a s3cr3t-token and s3cr3t, s3cr3ts3cr3t"),
            "a [REDACTED] and [REDACTED], [REDACTED][REDACTED]");
  EXPECT_EQ(r.Redact("nothing here"), "nothing here");
}

TEST(RedactorTest, AMaskIsNeverRedactedAgain) {
  // "RED" occurs inside the mask; a second pass would mangle it.
  Redactor r({"RED", "tok3n"});
  EXPECT_EQ(r.Redact("tok3n RED"), "[REDACTED] [REDACTED]");
}

TEST(RedactorTest, EmptyRedactorReturnsItsInput) {
  Redactor r;
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.Redact("x"), "x");
}

Job ShellJob() {
  Job job;
  job.name = *JobName::Parse("j");
  job.cron_expr = "* * * * *";
  job.executor.command = "echo $TOKEN";
  job.executor.env = {{"TOKEN", "tok-123456"}, {"PLAIN", "visible"}};
  job.executor.secret_env = {"TOKEN"};
  return job;
}

Job HttpJob() {
  Job job;
  job.name = *JobName::Parse("h");
  job.cron_expr = "* * * * *";
  job.executor_type = ExecutorType::kHttp;
  job.executor.url = "https://bot:hunter22@example.com/hook";
  job.executor.headers = {{"authorization", "Bearer abc.def.ghi"},
                          {"X-Custom", "custom-secret"},
                          {"Accept", "text/plain"}};
  job.executor.secret_headers = {"x-custom"};
  return job;
}

TEST(RedactorTest, ForJobTakesSecretEnvValuesOnly) {
  Redactor r = Redactor::ForJob(ShellJob(), DefaultSecretHeaders());
  EXPECT_EQ(r.Redact("TOKEN=tok-123456 PLAIN=visible"), "TOKEN=[REDACTED] PLAIN=visible");
}

TEST(RedactorTest, ForJobTakesConfiguredAndDeclaredHeadersCredentialsAndUrlPassword) {
  Redactor r = Redactor::ForJob(HttpJob(), DefaultSecretHeaders());
  // Header names match case-insensitively; "Bearer <token>" also masks the token alone.
  EXPECT_EQ(r.Redact("Authorization: Bearer abc.def.ghi"), "Authorization: [REDACTED]");
  EXPECT_EQ(r.Redact("{\"token\":\"abc.def.ghi\"}"), "{\"token\":\"[REDACTED]\"}");
  EXPECT_EQ(r.Redact("X-Custom: custom-secret"), "X-Custom: [REDACTED]");
  EXPECT_EQ(r.Redact("Accept: text/plain"), "Accept: text/plain");
  EXPECT_EQ(r.Redact("could not reach https://bot:hunter22@example.com/hook"),
            "could not reach https://bot:[REDACTED]@example.com/hook");
  // Without the configured list only the job's own declaration counts.
  Redactor own = Redactor::ForJob(HttpJob(), {});
  EXPECT_EQ(own.Redact("Bearer abc.def.ghi custom-secret"), "Bearer abc.def.ghi [REDACTED]");
}

TEST(SecretFieldsTest, ParsedValidatedAndRoundTripped) {
  auto job = ParseJobRequest(R"({"name":"s","cron_expr":"* * * * *","executor_type":"shell",
      "executor":{"command":"echo $T","env":{"T":"v1"},"secret_env":["T"]}})");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->executor.secret_env, std::vector<std::string>{"T"});
  auto again = ParseStoredJob(SerializeJob(*job));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->executor.secret_env, job->executor.secret_env);
  // Absent when empty: v1 clients see the shape they know.
  Job plain = *job;
  plain.executor.secret_env.clear();
  EXPECT_FALSE(EncodeJob(plain)["executor"].contains("secret_env"));
}

TEST(SecretFieldsTest, UnknownNamesAreFieldErrors) {
  auto bad = ParseJobRequest(R"({"name":"s","cron_expr":"* * * * *","executor_type":"shell",
      "executor":{"command":"x","env":{"T":"v"},"secret_env":["T","TOKN","T",3]}})");
  ASSERT_FALSE(bad.ok());
  const std::string msg(bad.status().message());
  EXPECT_THAT(msg, HasSubstr("executor.secret_env[1]"));
  EXPECT_THAT(msg, HasSubstr("\"TOKN\" is not a variable of executor.env"));
  EXPECT_THAT(msg, HasSubstr("executor.secret_env[2]"));
  EXPECT_THAT(msg, HasSubstr("listed twice"));
  EXPECT_THAT(msg, HasSubstr("executor.secret_env[3]"));
  EXPECT_THAT(msg, Not(HasSubstr("executor.secret_env[0]")));

  auto http = ParseJobRequest(R"({"name":"h","cron_expr":"* * * * *","executor_type":"http",
      "executor":{"url":"http://x/","headers":{"X-Key":"k"},"secret_headers":["x-key","Cookie"]}})");
  ASSERT_FALSE(http.ok());
  EXPECT_THAT(std::string(http.status().message()), HasSubstr("executor.secret_headers[1]"));
  EXPECT_THAT(std::string(http.status().message()),
              HasSubstr("\"Cookie\" is not a header of executor.headers"));
  EXPECT_THAT(std::string(http.status().message()), Not(HasSubstr("secret_headers[0]")));

  auto wrong_type = ParseJobRequest(R"({"name":"h","cron_expr":"* * * * *",
      "executor_type":"http","executor":{"url":"http://x/","secret_env":["A"]}})");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_THAT(std::string(wrong_type.status().message()), HasSubstr("executor.secret_env"));
}

}  // namespace
}  // namespace hg::model
