#include "worker/spool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace hg::worker {
namespace {

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hg-spool-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/spool.jsonl";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static FinishEntry Entry(const std::string& id) {
    FinishEntry e;
    e.id = id;
    e.record_revision = 42;
    e.inflight_revision = 43;
    e.lease = 0x1234abcd;
    e.lock_key = "/hourglass/locks/j/1234abcd";
    e.record = R"({"id":")" + id + R"(","status":"success","output":"é\n"})";
    e.worker_id = "w1";
    e.attempt = 2;
    return e;
  }

  off_t Size() {
    struct stat st {};
    return ::stat(path_.c_str(), &st) == 0 ? st.st_size : -1;
  }

  std::string dir_, path_;
};

TEST_F(SpoolTest, EncodesEveryField) {
  FinishEntry e = Entry("a");
  auto back = ResultSpool::DecodeEntry(ResultSpool::EncodeEntry(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->record_revision, 42);
  EXPECT_EQ(back->inflight_revision, 43);
  EXPECT_EQ(back->lease, e.lease);
  EXPECT_EQ(back->lock_key, e.lock_key);
  EXPECT_EQ(back->record, e.record);
  EXPECT_EQ(back->worker_id, "w1");
  EXPECT_EQ(back->attempt, 2);
  EXPECT_EQ(ResultSpool::EncodeEntry(e).find('\n'), std::string::npos);  // one line
}

TEST_F(SpoolTest, ReopenReturnsWhatIsNotDone) {
  {
    auto spool = ResultSpool::Open(path_);
    ASSERT_TRUE(spool.ok()) << spool.status();
    EXPECT_TRUE((*spool)->loaded().empty());
    ASSERT_TRUE((*spool)->Append(Entry("a")).ok());
    ASSERT_TRUE((*spool)->Append(Entry("b")).ok());
    ASSERT_TRUE((*spool)->Append(Entry("c")).ok());
    ASSERT_TRUE((*spool)->MarkDone("b").ok());
    EXPECT_EQ((*spool)->outstanding(), 2u);
  }
  // A crash in the middle of a write leaves a torn last line: ignored.
  std::ofstream(path_, std::ios::app) << R"({"op":"result","id":"d","exec)";
  auto spool = ResultSpool::Open(path_);
  ASSERT_TRUE(spool.ok()) << spool.status();
  ASSERT_EQ((*spool)->loaded().size(), 2u);
  EXPECT_EQ((*spool)->loaded()[0].id, "a");
  EXPECT_EQ((*spool)->loaded()[1].id, "c");
  EXPECT_EQ((*spool)->outstanding(), 2u);
  ASSERT_TRUE((*spool)->MarkDone("a").ok());
  EXPECT_GT(Size(), 0);
  ASSERT_TRUE((*spool)->MarkDone("c").ok());
  EXPECT_EQ(Size(), 0);  // nothing outstanding: truncated
  EXPECT_EQ((*spool)->outstanding(), 0u);
}

TEST_F(SpoolTest, AllDoneOnOpenTruncates) {
  {
    auto spool = ResultSpool::Open(path_);
    ASSERT_TRUE(spool.ok());
    ASSERT_TRUE((*spool)->Append(Entry("a")).ok());
    ASSERT_TRUE((*spool)->Append(Entry("b")).ok());
    ASSERT_TRUE((*spool)->MarkDone("a").ok());
  }
  std::ofstream(path_, std::ios::app) << R"({"op":"done","id":"b"})"
                                      << "\n";
  auto spool = ResultSpool::Open(path_);
  ASSERT_TRUE(spool.ok());
  EXPECT_TRUE((*spool)->loaded().empty());
  EXPECT_EQ(Size(), 0);
}

TEST_F(SpoolTest, MemoryOnlyWithoutAPath) {
  auto spool = ResultSpool::Open("");
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE((*spool)->Append(Entry("a")).ok());
  EXPECT_EQ((*spool)->outstanding(), 1u);
  ASSERT_TRUE((*spool)->MarkDone("a").ok());
  EXPECT_EQ((*spool)->outstanding(), 0u);
}

TEST_F(SpoolTest, UnwritablePathIsAnError) {
  auto spool = ResultSpool::Open(dir_ + "/missing/dir/spool.jsonl");
  EXPECT_FALSE(spool.ok());
  EXPECT_THAT(std::string(spool.status().message()), ::testing::HasSubstr("missing/dir"));
}

TEST_F(SpoolTest, OneWorkerPerSpool) {
  auto first = ResultSpool::Open(path_);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = ResultSpool::Open(path_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), ::testing::HasSubstr("--data"));
  first->reset();
  EXPECT_TRUE(ResultSpool::Open(path_).ok());  // free again once the first is closed
}

}  // namespace
}  // namespace hg::worker
