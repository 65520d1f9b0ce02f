#include "model/execution.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/field_errors.h"

namespace hg::model {
namespace {

using ::testing::ElementsAre;

Execution Sample() {
  Execution e;
  e.id = *ExecutionId::Parse("backup@1772938800000-1a2b3c4d");
  e.status = ExecutionStatus::kFailed;
  e.trigger = Trigger::kCatchup;
  e.scheduled_time = absl::FromUnixMillis(1772938800000);
  e.start_time = absl::FromUnixMillis(1772938800100);
  e.end_time = absl::FromUnixMillis(1772938801100);
  e.attempt = 3;
  e.retries_attempted = 2;
  e.worker_id = "w-1";
  e.output = "out\n";
  e.error = "exit status 2";
  e.exit_code = 2;
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  e.term = 17;
  e.duration_ms = 1000;
  return e;
}

TEST(ExecutionTest, EncodesV1FieldsFirst) {
  EXPECT_EQ(SerializeExecution(Sample()),
            R"({"id":"backup@1772938800000-1a2b3c4d","job_name":"backup",)"
            R"("start_time":"2026-03-08T03:00:00.1Z","end_time":"2026-03-08T03:00:01.1Z",)"
            R"("status":"failed","output":"out\n","error":"exit status 2","retries_attempted":2,)"
            R"("worker_id":"w-1","scheduled_time":"2026-03-08T03:00:00Z","attempt":3,)"
            R"("exit_code":2,"http_status":null,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",)"
            R"("trigger":"catchup","term":17,"duration_ms":1000})");
}

TEST(ExecutionTest, RoundTrip) {
  Execution e = Sample();
  auto back = ParseExecution(SerializeExecution(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);

  std::mt19937 rng(5);
  Execution fresh = NewExecution(*JobName::Parse("j"), absl::FromUnixSeconds(1772938800),
                                 Trigger::kManual, 4, rng);
  EXPECT_EQ(fresh.status, ExecutionStatus::kScheduled);
  EXPECT_EQ(fresh.attempt, 1);
  Json j = EncodeExecution(fresh);
  EXPECT_EQ(j["start_time"], nullptr);
  EXPECT_EQ(j["end_time"], nullptr);
  EXPECT_EQ(j["trigger"], "manual");
  EXPECT_EQ(*DecodeExecution(j), fresh);
}

TEST(ExecutionTest, InvalidUtf8OutputStillSerializes) {
  Execution e = Sample();
  e.output = "bad \xff byte";
  auto back = ParseExecution(SerializeExecution(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->output, "bad \xEF\xBF\xBD byte");
}

TEST(ExecutionTest, StatusesAndTriggers) {
  for (auto s : {ExecutionStatus::kScheduled, ExecutionStatus::kRunning, ExecutionStatus::kSuccess,
                 ExecutionStatus::kFailed, ExecutionStatus::kTimeout, ExecutionStatus::kKilled,
                 ExecutionStatus::kMissed, ExecutionStatus::kSkipped}) {
    EXPECT_EQ(ParseExecutionStatus(ToString(s)), s);
  }
  EXPECT_FALSE(IsFinal(ExecutionStatus::kScheduled));
  EXPECT_FALSE(IsFinal(ExecutionStatus::kRunning));
  EXPECT_TRUE(IsFinal(ExecutionStatus::kSuccess));
  EXPECT_TRUE(IsFinal(ExecutionStatus::kMissed));
  EXPECT_FALSE(ParseExecutionStatus("done"));
  for (auto t : {Trigger::kSchedule, Trigger::kManual, Trigger::kCatchup}) {
    EXPECT_EQ(ParseTrigger(ToString(t)), t);
  }
}

TEST(ExecutionTest, DecodeErrors) {
  auto r = ParseExecution(
      R"({"id":"backup@1772938800000-1a2b3c4d","job_name":"other","status":"done",)"
      R"("trigger":"cosmic","attempt":0,"start_time":"yesterday","exit_code":"2"})");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(
      FieldErrorsOf(r.status()),
      ElementsAre(FieldError{"job_name", "\"other\" disagrees with id \"backup@1772938800000-1a2b3c4d\""},
                  FieldError{"start_time",
                             "invalid RFC 3339 time \"yesterday\": Failed to parse input"},
                  FieldError{"status", "unknown status \"done\""},
                  FieldError{"attempt", "must be between 1 and 1000000"},
                  FieldError{"exit_code", "must be an integer, got a string"},
                  FieldError{"trigger", "unknown trigger \"cosmic\""}));
}

TEST(ExecutionTest, DecodeNeedsAnId) {
  EXPECT_THAT(FieldErrorsOf(ParseExecution("{}").status()),
              ElementsAre(FieldError{"id", "is required"}));
  EXPECT_FALSE(ParseExecution("[]").ok());
  EXPECT_FALSE(ParseExecution(R"({"id":"nope"})").ok());
}

TEST(ExecutionTest, UnknownFieldsAreTolerated) {
  auto r = ParseExecution(R"({"id":"backup@1772938800000-1a2b3c4d","future":1})");
  ASSERT_TRUE(r.ok()) << r.status();
  // scheduled_time falls back to the id's instant.
  EXPECT_EQ(r->scheduled_time, absl::FromUnixMillis(1772938800000));
}

TEST(ExecutionTest, Summary) {
  EXPECT_EQ(DumpJson(EncodeExecutionSummary(Sample())),
            R"({"id":"backup@1772938800000-1a2b3c4d","status":"failed","trigger":"catchup",)"
            R"("scheduled_time":"2026-03-08T03:00:00Z","start_time":"2026-03-08T03:00:00.1Z",)"
            R"("end_time":"2026-03-08T03:00:01.1Z","duration_ms":1000})");
}

}  // namespace
}  // namespace hg::model

namespace hg::model {
namespace {

TEST(DispatchEnvelopeTest, EmbedsTheStoredJob) {
  Json env = *ParseJson(MakeDispatchEnvelope(R"({"name":"a"})", absl::FromUnixSeconds(1772938800),
                                             2, "00-abc-def-01"));
  EXPECT_EQ(env, Json::parse(R"({"job":{"name":"a"},"scheduled_time":"2026-03-08T03:00:00Z",)"
                             R"("attempt":2,"traceparent":"00-abc-def-01"})"));
  // Unparsable job text is carried as a string rather than lost.
  EXPECT_EQ((*ParseJson(MakeDispatchEnvelope("{oops", absl::UnixEpoch(), 1, "")))["job"], "{oops");
}

}  // namespace
}  // namespace hg::model
