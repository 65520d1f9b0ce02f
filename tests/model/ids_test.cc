#include "model/ids.h"

#include <random>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace hg::model {
namespace {

TEST(JobNameTest, AcceptsTheV1Alphabet) {
  for (const std::string& name : std::vector<std::string>{"a", "my-first-shell-job", "A.b_c-9", std::string(128, 'x')}) {
    auto parsed = JobName::Parse(name);
    ASSERT_TRUE(parsed.ok()) << name << ": " << parsed.status();
    EXPECT_EQ(parsed->str(), name);
    EXPECT_TRUE(JobName::IsValid(name));
  }
}

TEST(JobNameTest, AcceptsV1Names) {
  // v1 accepted any 1-128 characters: spaces, non-ASCII letters, punctuation.
  std::string long_cjk;
  for (int i = 0; i < 128; ++i) long_cjk += "备";  // 128 characters, 384 bytes
  for (const std::string& name :
       std::vector<std::string>{"My Job", "备份", "50% off", "a@b", "what?", "#1", " padded ",
                                "...", "a..b", ".hidden", "ünïcödé ✓", "a+b=c&d", long_cjk}) {
    auto parsed = JobName::Parse(name);
    ASSERT_TRUE(parsed.ok()) << name << ": " << parsed.status();
    EXPECT_EQ(parsed->str(), name);
    EXPECT_TRUE(JobName::IsValid(name)) << name;
  }
}

TEST(JobNameTest, RejectsWithReason) {
  EXPECT_EQ(JobName::Parse("").status().message(), "name must not be empty");
  EXPECT_EQ(JobName::Parse(std::string(129, 'x')).status().message(),
            "name is 129 characters long; the maximum is 128");
  std::string long_cjk;
  for (int i = 0; i < 129; ++i) long_cjk += "备";
  EXPECT_EQ(JobName::Parse(long_cjk).status().message(),
            "name is 129 characters long; the maximum is 128");
  EXPECT_EQ(JobName::Parse("a/b").status().message(),
            "name contains '/' at position 2; any character but '/' and control characters is "
            "allowed");
  EXPECT_EQ(JobName::Parse("备/份").status().message(),
            "name contains '/' at position 2; any character but '/' and control characters is "
            "allowed");
  EXPECT_EQ(JobName::Parse(std::string("a\0b", 3)).status().message(),
            "name contains control character U+0000 at position 2; any character but '/' and "
            "control characters is allowed");
  EXPECT_EQ(JobName::Parse("a\tb").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobName::Parse("a\nb").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobName::Parse("a\x7f").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobName::Parse("a\xc2\x85").status().message(),  // U+0085, a C1 control
            "name contains control character U+0085 at position 2; any character but '/' and "
            "control characters is allowed");
  EXPECT_EQ(JobName::Parse(".").status().message(), "name must not be \".\" or \"..\"");
  EXPECT_EQ(JobName::Parse("..").status().message(), "name must not be \".\" or \"..\"");
  EXPECT_EQ(JobName::Parse("a\xff").status().message(),
            "name is not valid UTF-8 (byte 0xff at position 2)");
  EXPECT_FALSE(JobName::IsValid("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(JobName::IsValid("\xed\xa0\x80"));  // a UTF-16 surrogate
  EXPECT_FALSE(JobName::IsValid("\xe5\xa4"));      // truncated
  EXPECT_FALSE(JobName::IsValid("a/b"));
}

TEST(ExecutionIdTest, NewHasTheDecidedFormat) {
  std::mt19937 rng(42);
  auto job = *JobName::Parse("backup");
  const absl::Time t = absl::FromUnixMillis(1772938800000);
  ExecutionId id = ExecutionId::New(job, t, rng);
  ASSERT_EQ(id.str().size(), std::string("backup@1772938800000-1a2b3c4d").size());
  EXPECT_EQ(id.str().substr(0, 21), "backup@1772938800000-");
  for (char c : id.str().substr(21)) EXPECT_TRUE(isxdigit(c) && !isupper(c)) << id.str();
  EXPECT_EQ(id.job(), job);
  EXPECT_EQ(id.scheduled(), t);
  EXPECT_EQ(id.suffix(), id.str().substr(7));
  // Two ids of the same instant differ by their random part.
  EXPECT_NE(ExecutionId::New(job, t, rng), id);
}

TEST(ExecutionIdTest, PadsAndTruncatesMillis) {
  std::mt19937 rng(1);
  auto job = *JobName::Parse("j");
  ExecutionId early = ExecutionId::New(job, absl::FromUnixMillis(5) + absl::Microseconds(900), rng);
  EXPECT_EQ(early.str().substr(0, 16), "j@0000000000005-");
  EXPECT_EQ(early.scheduled(), absl::FromUnixMillis(5));
  ExecutionId before_epoch = ExecutionId::New(job, absl::FromUnixSeconds(-10), rng);
  EXPECT_EQ(before_epoch.str().substr(0, 16), "j@0000000000000-");
}

TEST(ExecutionIdTest, ParseRoundTrips) {
  auto id = ExecutionId::Parse("backup@1772938800000-1a2b3c4d");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->job().str(), "backup");
  EXPECT_EQ(id->suffix(), "1772938800000-1a2b3c4d");
  EXPECT_EQ(id->scheduled(), absl::FromUnixMillis(1772938800000));
  EXPECT_EQ(id->str(), "backup@1772938800000-1a2b3c4d");

  std::mt19937 rng(7);
  ExecutionId fresh = ExecutionId::New(*JobName::Parse("a.b-c_d"), absl::Now(), rng);
  EXPECT_EQ(*ExecutionId::Parse(fresh.str()), fresh);
}

TEST(ExecutionIdTest, ParseRejectsEveryDeviation) {
  for (const char* bad : {"", "backup", "@1772938800000-1a2b3c4d", "backup@",
                          "backup@1772938800000", "backup@177293880000-1a2b3c4d",
                          "backup@17729388000000-1a2b3c4d", "backup@1772938800000-1A2B3C4D",
                          "backup@1772938800000-1a2b3c4", "backup@1772938800000-1a2b3c4dd",
                          "backup@1772938800000_1a2b3c4d", "back/up@1772938800000-1a2b3c4d",
                          "backup@x772938800000-1a2b3c4d", "a@b@1772938800000-1a2b3c4"}) {
    auto id = ExecutionId::Parse(bad);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ExecutionId::Parse("backup").status().message(),
            "invalid execution id \"backup\": missing '@' (expected <job-name>@<13-digit unix "
            "ms>-<8 lowercase hex>)");
}

TEST(ExecutionIdTest, NamesWithAtSplitAtTheLastAt) {
  // The suffix has no '@', so "<name>@<suffix>" splits at its last '@' whatever the name holds.
  for (const std::string name : {"a@b", "@", "x@1772938800000-1a2b3c4d", "My Job", "备份"}) {
    std::mt19937 rng(9);
    ExecutionId id = ExecutionId::New(*JobName::Parse(name), absl::FromUnixMillis(1), rng);
    EXPECT_EQ(id.str().substr(0, name.size() + 1), name + "@");
    auto parsed = ExecutionId::Parse(id.str());
    ASSERT_TRUE(parsed.ok()) << id.str() << ": " << parsed.status();
    EXPECT_EQ(parsed->job().str(), name);
    EXPECT_EQ(*parsed, id);
  }
}

TEST(ExecutionIdTest, SuffixesSortByScheduledTime) {
  std::mt19937 rng(3);
  auto job = *JobName::Parse("j");
  ExecutionId a = ExecutionId::New(job, absl::FromUnixMillis(999'999'999'999), rng);
  ExecutionId b = ExecutionId::New(job, absl::FromUnixMillis(1'000'000'000'000), rng);
  EXPECT_LT(std::string(a.suffix()), std::string(b.suffix()));
}

}  // namespace
}  // namespace hg::model
