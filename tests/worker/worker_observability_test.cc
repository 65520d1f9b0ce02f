// What a worker's run leaves in logs (issue #6 "Logs"): every line about a run carries job,
// execution_id, scheduled_time, worker, trace_id and span_id.
#include <algorithm>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "model/json.h"
#include "nlohmann/json.hpp"
#include "telemetry/trace_context.h"
#include "telemetry/tracer.h"
#include "tests/worker/worker_test_util.h"

namespace hg::worker::testing {
namespace {

using model::ExecutionStatus;
using ::testing::HasSubstr;

// Log lines of every thread, parsed; thread-safe.
class CaptureSink : public log::Sink {
 public:
  void Write(std::string_view line) override {
    absl::MutexLock lock(&mu_);
    lines_.emplace_back(line);
  }
  std::vector<nlohmann::json> Json() {
    absl::MutexLock lock(&mu_);
    std::vector<nlohmann::json> out;
    for (const std::string& l : lines_) out.push_back(nlohmann::json::parse(l));
    return out;
  }
  std::string Text() {
    absl::MutexLock lock(&mu_);
    std::string all;
    for (const std::string& l : lines_) all += l + "\n";
    return all;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

class CollectingSpans : public trace::SpanSink {
 public:
  void Submit(trace::SpanData span) override {
    absl::MutexLock lock(&mu_);
    spans_.push_back(std::move(span));
  }
  std::vector<trace::SpanData> Spans() {
    absl::MutexLock lock(&mu_);
    return spans_;
  }

 private:
  absl::Mutex mu_;
  std::vector<trace::SpanData> spans_ ABSL_GUARDED_BY(mu_);
};

class WorkerObservabilityTest : public WorkerFixture {
 protected:
  void SetUp() override {
    WorkerFixture::SetUp();
    log::Configure(log::Level::kDebug, log::Format::kJson);
    log::SetSinkForTesting(&sink_);
  }
  void TearDown() override {
    WorkerFixture::TearDown();  // workers stopped: nothing logs any more
    log::SetSinkForTesting(nullptr);
    log::Configure(log::Level::kInfo, log::Format::kAuto);
  }

  // The worker's lines that name `id`.
  std::vector<nlohmann::json> LinesOf(const model::ExecutionId& id) {
    std::vector<nlohmann::json> out;
    for (nlohmann::json& j : sink_.Json()) {
      if (j.value("component", "") == "worker" && j.value("execution_id", "") == id.str()) {
        out.push_back(std::move(j));
      }
    }
    return out;
  }

  CaptureSink sink_;
};

TEST_F(WorkerObservabilityTest, EveryLineAboutARunCarriesItsIdentity) {
  CollectingSpans spans;
  trace::Tracer tracer(clock_, &spans);
  WorkerOptions options = Options("w-logs");
  options.probe.tracer = &tracer;
  WorkerService& w = StartWorker(options);
  model::Job job = ShellJob("logged", "echo out; exit 3");
  job.retry_policy.max_retries = 1;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(1));
  const model::ExecutionId id = Schedule(job);

  auto resp = RunOne(w, Request(job, id));
  ASSERT_TRUE(resp.ok()) << resp.status();
  model::Execution done = WaitFinal(id, [&] { clock_.Advance(absl::Milliseconds(100)); });
  EXPECT_EQ(done.status, ExecutionStatus::kFailed);
  ASSERT_TRUE(WaitFor([&] { return w.Health().in_flight() == 0; }));

  // The execution span is the one the lines are written under.
  std::string execution_span;
  for (const trace::SpanData& s : spans.Spans()) {
    if (s.name == "execution") execution_span = trace::ToHex(s.span_id.data(), s.span_id.size());
  }
  ASSERT_FALSE(execution_span.empty());

  std::vector<nlohmann::json> lines = LinesOf(id);
  std::vector<std::string> msgs;
  for (const nlohmann::json& j : lines) msgs.push_back(j.value("msg", ""));
  EXPECT_THAT(msgs, ::testing::IsSupersetOf({"claimed", "retrying", "finished"}));
  for (const nlohmann::json& j : lines) {
    SCOPED_TRACE(j.dump());
    EXPECT_EQ(j.value("job", ""), "logged");
    EXPECT_EQ(j.value("scheduled_time", ""), model::FormatRfc3339(id.scheduled()));
    EXPECT_EQ(j.value("worker", ""), "w-logs");
    EXPECT_EQ(j.value("trace_id", ""), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(j.value("span_id", ""), execution_span);
  }
  // Lines of the worker that are not about one run do not pretend to be.
  for (const nlohmann::json& j : sink_.Json()) {
    if (j.contains("execution_id")) {
      EXPECT_TRUE(j.contains("span_id")) << j.dump();
      EXPECT_TRUE(j.contains("scheduled_time")) << j.dump();
    }
  }
}

TEST_F(WorkerObservabilityTest, WithoutATracerTheDispatchContextIsUsed) {
  WorkerService& w = StartWorker("w-plain");
  model::Job job = ShellJob("plain", "true");
  const model::ExecutionId id = Schedule(job);
  ASSERT_TRUE(RunOne(w, Request(job, id)).ok());
  EXPECT_EQ(WaitFinal(id).status, ExecutionStatus::kSuccess);
  ASSERT_TRUE(WaitFor([&] { return w.Health().in_flight() == 0; }));
  std::vector<nlohmann::json> lines = LinesOf(id);
  ASSERT_GE(lines.size(), 2u);  // claimed, finished
  for (const nlohmann::json& j : lines) {
    EXPECT_EQ(j.value("trace_id", ""), "0af7651916cd43dd8448eb211c80319c") << j.dump();
    EXPECT_EQ(j.value("span_id", ""), "b7ad6b7169203331") << j.dump();
    EXPECT_EQ(j.value("worker", ""), "w-plain") << j.dump();
  }
}

// An HTTP executor stand-in whose server echoes the request's headers, and whose error quotes
// the URL (as libcurl's messages may): what a secret-leaking run looks like.
class EchoingHttp : public executor::Executor {
 public:
  std::unique_ptr<executor::RunHandle> Start(const executor::ExecRequest& request,
                                             executor::DoneCallback on_done) override {
    const auto& spec = std::get<executor::HttpSpec>(request.spec);
    executor::ExecResult r;
    r.status = executor::ExecStatus::kFailed;
    r.http_status = 500;
    for (const auto& [name, value] : spec.headers) r.output += name + ": " + value + "\n";
    r.error = "unexpected HTTP status 500 from " + spec.url;
    on_done(std::move(r));
    return std::make_unique<NoHandle>();
  }
  void Stop() override {}

 private:
  struct NoHandle : executor::RunHandle {
    void Kill(std::string, executor::KillMode) override {}
  };
};

TEST_F(WorkerObservabilityTest, SecretEnvValuesNeverReachTheRecordOrTheLogs) {
  WorkerService& w = StartWorker("w-secret");
  // Prints the secret on stdout and stderr, fails, is retried (a log line with the error).
  model::Job job = ShellJob("leaky",
                            "echo \"token=$TOKEN\"; echo \"plain=$PLAIN\"; "
                            "echo \"$TOKEN\" >&2; exit 1");
  job.executor.env = {{"TOKEN", "tok-9f8e7d6c5b"}, {"PLAIN", "not-secret"}};
  job.executor.secret_env = {"TOKEN"};
  job.retry_policy.max_retries = 1;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(1));
  const model::ExecutionId id = Schedule(job);
  ASSERT_TRUE(RunOne(w, Request(job, id)).ok());
  model::Execution done = WaitFinal(id, [&] { clock_.Advance(absl::Milliseconds(100)); });
  ASSERT_TRUE(WaitFor([&] { return w.Health().in_flight() == 0; }));

  EXPECT_EQ(done.status, ExecutionStatus::kFailed);
  EXPECT_THAT(done.output, HasSubstr("token=[REDACTED]"));
  EXPECT_THAT(done.output, HasSubstr("plain=not-secret"));
  EXPECT_THAT(done.output, ::testing::Not(HasSubstr("tok-9f8e7d6c5b")));
  EXPECT_THAT(done.error, ::testing::Not(HasSubstr("tok-9f8e7d6c5b")));
  EXPECT_FALSE(LinesOf(id).empty());
  EXPECT_THAT(sink_.Text(), ::testing::Not(HasSubstr("tok-9f8e7d6c5b")));
  // The stored record as a whole (what history returns).
  auto raw = store::Get(*sqlite_, keys_.Exec(id));
  ASSERT_TRUE(raw.ok() && raw->has_value());
  EXPECT_THAT((*raw)->value, ::testing::Not(HasSubstr("tok-9f8e7d6c5b")));
}

TEST_F(WorkerObservabilityTest, SecretHeadersAreRedactedFromOutputErrorAndLogs) {
  EchoingHttp http;
  WorkerOptions options = Options("w-http");
  options.secret_headers = {"Authorization"};  // the configured list
  auto worker = std::make_unique<WorkerService>(
      *kv_, clock_, keys_, Executors{.shell = shell_.get(), .http = &http}, options);
  ASSERT_TRUE(worker->Start().ok());
  worker->AttachSession(NewLease(), [] { return true; });

  model::Job job;
  job.name = *model::JobName::Parse("hook");
  job.cron_expr = "* * * * *";
  job.executor_type = model::ExecutorType::kHttp;
  job.executor.url = "https://bot:pa55word@hooks.example/x";
  job.executor.headers = {{"authorization", "Bearer eyJhbGciOi.abc"},
                          {"X-Signature", "sig-0123456789"},
                          {"Accept", "text/plain"}};
  job.executor.secret_headers = {"X-Signature"};
  ASSERT_TRUE(model::ValidateJob(job).ok()) << model::ValidateJob(job);
  const model::ExecutionId id = Schedule(job);
  ASSERT_TRUE(RunOne(*worker, Request(job, id)).ok());
  model::Execution done = WaitFinal(id);
  ASSERT_TRUE(WaitFor([&] { return worker->Health().in_flight() == 0; }));
  worker->Stop();

  EXPECT_EQ(done.status, ExecutionStatus::kFailed);
  EXPECT_THAT(done.output, HasSubstr("authorization: [REDACTED]"));
  EXPECT_THAT(done.output, HasSubstr("X-Signature: [REDACTED]"));
  EXPECT_THAT(done.output, HasSubstr("Accept: text/plain"));
  EXPECT_EQ(done.error, "unexpected HTTP status 500 from https://bot:[REDACTED]@hooks.example/x");
  for (const char* secret : {"eyJhbGciOi.abc", "sig-0123456789", "pa55word"}) {
    EXPECT_THAT(done.output + done.error, ::testing::Not(HasSubstr(secret)));
    EXPECT_THAT(sink_.Text(), ::testing::Not(HasSubstr(secret)));
  }
}

}  // namespace
}  // namespace hg::worker::testing
