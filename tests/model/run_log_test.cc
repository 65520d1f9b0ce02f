#include "model/run_log.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "model/json.h"
#include "nlohmann/json.hpp"

namespace hg::model {
namespace {

class CaptureSink : public log::Sink {
 public:
  void Write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

class RunLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::Configure(log::Level::kDebug, log::Format::kJson);
    log::SetSinkForTesting(&sink_);
  }
  void TearDown() override {
    log::SetSinkForTesting(nullptr);
    log::Configure(log::Level::kInfo, log::Format::kAuto);
  }
  ExecutionId Id() {
    std::mt19937_64 rng(1);
    return ExecutionId::New(*JobName::Parse("backup"), absl::FromUnixMillis(1772938800000), rng);
  }
  CaptureSink sink_;
};

TEST_F(RunLogTest, LinesCarryAllSixFieldsFromIdWorkerAndTraceparent) {
  const ExecutionId id = Id();
  log::Logger logger("worker");
  RunLogger(logger, id, "w1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
      .Info("claimed", {{"attempt", 2}});
  ASSERT_EQ(sink_.lines.size(), 1u);
  auto j = nlohmann::json::parse(sink_.lines[0]);
  EXPECT_EQ(j["msg"], "claimed");
  EXPECT_EQ(j["component"], "worker");
  EXPECT_EQ(j["job"], "backup");
  EXPECT_EQ(j["execution_id"], id.str());
  EXPECT_EQ(j["scheduled_time"], "2026-03-08T03:00:00Z");
  EXPECT_EQ(j["worker"], "w1");
  EXPECT_EQ(j["trace_id"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(j["span_id"], "b7ad6b7169203331");
  EXPECT_EQ(j["attempt"], 2);
}

TEST_F(RunLogTest, UnknownPartsAreEmptyNotMissingAndTheFallbackTraceIsUsed) {
  log::Logger logger("dispatch");
  RunLogger(logger, Id(), "", "not-a-traceparent", "4bf92f3577b34da6a3ce929d0e0e4736")
      .Warn("no worker available");
  ASSERT_EQ(sink_.lines.size(), 1u);
  auto j = nlohmann::json::parse(sink_.lines[0]);
  EXPECT_EQ(j["worker"], "");
  EXPECT_EQ(j["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(j["span_id"], "");
}

TEST_F(RunLogTest, FilterAppliesToTheLinesOwnStringsNotToTheIds) {
  log::Logger logger("worker");
  auto filter = [](std::string_view s) {
    std::string out(s);
    for (size_t p; (p = out.find("backup")) != std::string::npos;) out.replace(p, 6, "[X]");
    return out;
  };
  RunLogger(logger, Id(), "w1", "", "", filter)
      .Info("retrying backup", {{"error", "backup failed"}, {"retry", 1}});
  auto j = nlohmann::json::parse(sink_.lines.at(0));
  EXPECT_EQ(j["job"], "backup");  // context fields are ids, never filtered
  EXPECT_EQ(j["msg"], "retrying [X]");
  EXPECT_EQ(j["error"], "[X] failed");
  EXPECT_EQ(j["retry"], 1);
}

}  // namespace
}  // namespace hg::model
