#include "common/logging.h"

#include <gtest/gtest.h>

#include <vector>

namespace hg::log {
namespace {

class CaptureSink : public Sink {
 public:
  void Write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override { SetSinkForTesting(&sink_); }
  void TearDown() override {
    SetSinkForTesting(nullptr);
    Configure(Level::kInfo, Format::kAuto);
  }
  CaptureSink sink_;
};

TEST_F(LoggingTest, JsonLineCarriesStandardKeysAndFields) {
  Configure(Level::kInfo, Format::kJson);
  Logger("scheduler").Info("fired", {{"job", "backup"}, {"attempt", 2}});
  ASSERT_EQ(sink_.lines.size(), 1u);
  auto j = nlohmann::json::parse(sink_.lines[0]);
  EXPECT_EQ(j["msg"], "fired");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["component"], "scheduler");
  EXPECT_EQ(j["job"], "backup");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_TRUE(j["time"].is_string());
}

TEST_F(LoggingTest, LevelFiltersAndInvalidUtf8IsReplaced) {
  Configure(Level::kWarn, Format::kJson);
  Logger log("x");
  log.Info("hidden");
  log.Warn("shown", {{"output", std::string("\xff\xfe")}});
  ASSERT_EQ(sink_.lines.size(), 1u);
  EXPECT_TRUE(nlohmann::json::accept(sink_.lines[0]));
}

TEST_F(LoggingTest, TextFormatIsReadable) {
  Configure(Level::kDebug, Format::kText);
  Logger("api").Debug("request", {{"route", "/jobs/{name}"}});
  ASSERT_EQ(sink_.lines.size(), 1u);
  EXPECT_NE(sink_.lines[0].find("DEBUG [api] request route=/jobs/{name}"), std::string::npos);
}

TEST(LoggingConfig, RejectsUnknownLevel) {
  auto st = ConfigureFromStrings("loud", "json");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("loud"), std::string_view::npos);
}

}  // namespace
}  // namespace hg::log
