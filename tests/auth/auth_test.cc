// auth/: token texts and records, the token store (create, authenticate, cache, expiry,
// bootstrap), the per-caller rate limiter and the audit log, on a FakeClock.
#include <memory>
#include <string>

#include "auth/audit.h"
#include "auth/mode.h"
#include "auth/rate_limiter.h"
#include "auth/token.h"
#include "auth/token_store.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/local/sqlite_kv.h"
#include "tests/fixtures/flaky_kv.h"

namespace hg::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<store::SqliteKv> OpenKv(Clock& clock) {
  auto kv = store::SqliteKv::Open(":memory:", clock);
  EXPECT_TRUE(kv.ok()) << kv.status();
  return kv.ok() ? *std::move(kv) : nullptr;
}

TEST(TokenText, RoundTripsAndRefusesAnythingElse) {
  const TokenText t = NewToken("ci-bot");
  EXPECT_EQ(t.secret.size(), 64u);
  const std::string text = FormatToken(t);
  EXPECT_THAT(text, ::testing::StartsWith("hg_ci-bot."));
  auto parsed = ParseToken(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->name, "ci-bot");
  EXPECT_EQ(parsed->secret, t.secret);
  EXPECT_NE(NewToken("ci-bot").secret, t.secret);
  for (const std::string& bad : std::vector<std::string>{
           "", "hg_", "hg_x", "hg_.abc", "ci-bot." + t.secret, "hg_ci-bot." + t.secret.substr(1),
           "hg_ci bot." + t.secret, "hg_ci-bot." + std::string(64, 'G')}) {
    EXPECT_FALSE(ParseToken(bad)) << bad;
  }
}

TEST(TokenText, BearerHeaders) {
  EXPECT_EQ(BearerTokenOf("Bearer hg_a.b"), "hg_a.b");
  EXPECT_EQ(BearerTokenOf("  bearer   hg_a.b  "), "hg_a.b");
  EXPECT_EQ(BearerTokenOf("BEARER x"), "x");
  for (const char* bad : {"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearerx", "Token x"}) {
    EXPECT_FALSE(BearerTokenOf(bad)) << bad;
  }
}

TEST(TokenText, NamesAreShortAndPlain) {
  EXPECT_TRUE(ValidateTokenName("deploy_bot-2").ok());
  EXPECT_FALSE(ValidateTokenName("").ok());
  EXPECT_FALSE(ValidateTokenName(std::string(65, 'a')).ok());
  EXPECT_FALSE(ValidateTokenName("a.b").ok());
  EXPECT_FALSE(ValidateTokenName("a/b").ok());
}

TEST(TokenRecord, KeepsOnlyASaltedHashAndRoundTrips) {
  const TokenText t = NewToken("ops");
  const TokenRecord r = MakeRecord(t, Role::kOperator, absl::FromUnixSeconds(1000), "admin",
                                   absl::FromUnixSeconds(5000));
  const std::string stored = EncodeTokenRecord(r);
  EXPECT_THAT(stored, ::testing::Not(HasSubstr(t.secret)));
  auto back = DecodeTokenRecord(stored);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->role, Role::kOperator);
  EXPECT_EQ(back->created_by, "admin");
  EXPECT_EQ(back->expires_at, absl::FromUnixSeconds(5000));
  EXPECT_TRUE(SecretMatches(*back, t.secret));
  EXPECT_FALSE(SecretMatches(*back, NewToken("ops").secret));
  // The same secret under another salt hashes differently.
  EXPECT_NE(MakeRecord(t, Role::kOperator, {}, "", {}).hash, r.hash);
  EXPECT_FALSE(DecodeTokenRecord(R"({"name":"x"})").ok());
  EXPECT_FALSE(DecodeTokenRecord("[]").ok());
}

TEST(Roles, EachRoleMayDoWhatTheOnesBelowMay) {
  EXPECT_TRUE(Allows(Role::kViewer, Access::kOpen));
  EXPECT_TRUE(Allows(Role::kViewer, Access::kView));
  EXPECT_FALSE(Allows(Role::kViewer, Access::kOperate));
  EXPECT_TRUE(Allows(Role::kOperator, Access::kOperate));
  EXPECT_FALSE(Allows(Role::kOperator, Access::kAdmin));
  EXPECT_TRUE(Allows(Role::kAdmin, Access::kAdmin));
  EXPECT_EQ(ParseRole("operator"), Role::kOperator);
  EXPECT_FALSE(ParseRole("root"));
}

class TokenStoreTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  std::unique_ptr<store::SqliteKv> kv_ = OpenKv(clock_);
  model::Keys keys_;
  TokenStore tokens_{*kv_, clock_, keys_, {}};
};

TEST_F(TokenStoreTest, ATokenAuthenticatesAsItsNameAndRole) {
  auto text = tokens_.Create("ops", Role::kOperator, "admin", std::nullopt);
  ASSERT_TRUE(text.ok()) << text.status();
  auto who = tokens_.Authenticate(*text);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->name, "ops");
  EXPECT_EQ(who->role, Role::kOperator);
  // Same name, another secret; garbage; a token of a name that does not exist.
  EXPECT_EQ(tokens_.Authenticate(FormatToken(NewToken("ops"))).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens_.Authenticate("ops").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens_.Authenticate(FormatToken(NewToken("nobody"))).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(TokenStoreTest, NamesAreUniqueAndListingShowsNoSecret) {
  auto text = tokens_.Create("ops", Role::kOperator, "admin", std::nullopt);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(tokens_.Create("ops", Role::kAdmin, "admin", std::nullopt).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(tokens_.Create("bad name", Role::kAdmin, "admin", std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto list = tokens_.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "ops");
  auto stored = kv_->Range(store::RangeRequest::Prefix(keys_.TokensPrefix()));
  ASSERT_TRUE(stored.ok());
  EXPECT_THAT(stored->kvs[0].value, ::testing::Not(HasSubstr(ParseToken(*text)->secret)));
}

TEST_F(TokenStoreTest, ADeletedTokenStopsAtOnceHereAndWithinTheCacheTtlElsewhere) {
  TokenStore other_master(*kv_, clock_, keys_, {.cache_ttl = absl::Seconds(2)});
  auto text = tokens_.Create("ci", Role::kViewer, "admin", std::nullopt);
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(other_master.Authenticate(*text).ok());  // now cached there
  ASSERT_TRUE(tokens_.Delete("ci").ok());
  EXPECT_FALSE(tokens_.Authenticate(*text).ok());
  EXPECT_TRUE(other_master.Authenticate(*text).ok()) << "still within its cache TTL";
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(other_master.Authenticate(*text).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens_.Delete("ci").code(), absl::StatusCode::kNotFound);
}

TEST_F(TokenStoreTest, AnExpiredTokenIsRefused) {
  auto text = tokens_.Create("temp", Role::kAdmin, "admin", absl::Hours(1));
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(tokens_.Authenticate(*text).ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(tokens_.Authenticate(*text).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(TokenStoreTest, BootstrapMakesOneAdminTokenOnAnEmptyStoreOnly) {
  auto first = tokens_.Bootstrap(std::nullopt);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  auto who = tokens_.Authenticate(**first);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->role, Role::kAdmin);
  // A second master (or a restart) finds it and shows nothing.
  TokenStore other_master(*kv_, clock_, keys_, {});
  auto second = other_master.Bootstrap(std::nullopt);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
}

TEST_F(TokenStoreTest, BootstrapFromAGivenTokenCreatesItOrChecksIt) {
  const std::string given = FormatToken(NewToken("root-admin"));
  auto made = tokens_.Bootstrap(given);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_FALSE(made->has_value()) << "the caller already knows it";
  EXPECT_EQ(tokens_.Authenticate(given)->role, Role::kAdmin);
  EXPECT_TRUE(tokens_.Bootstrap(given).ok()) << "idempotent";
  EXPECT_EQ(tokens_.Bootstrap(FormatToken(NewToken("root-admin"))).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(tokens_.Bootstrap(std::string("secret")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A store with a token gets no generated one.
  auto none = tokens_.Bootstrap(std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(RateLimiterTest, ABurstThenTheSustainedRatePerCaller) {
  FakeClock clock;
  RateLimiter limiter(clock, {.per_second = 2, .burst = 3});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("a").admitted) << i;
  const RateLimiter::Decision refused = limiter.Admit("a");
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retry_after, absl::Milliseconds(500));
  EXPECT_TRUE(limiter.Admit("b").admitted) << "callers are independent";
  clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(limiter.Admit("a").admitted);
  EXPECT_FALSE(limiter.Admit("a").admitted);
  clock.Advance(absl::Seconds(60));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("a").admitted) << "refilled to the burst";
  EXPECT_FALSE(limiter.Admit("a").admitted);
}

TEST(RateLimiterTest, ManyCallersDoNotGrowItWithoutBound) {
  FakeClock clock;
  RateLimiter limiter(clock, {.per_second = 1, .burst = 1, .max_callers = 10});
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Admit(std::to_string(i)).admitted);
  EXPECT_FALSE(limiter.Admit("999").admitted) << "a recent caller keeps its bucket";
}

TEST(RateLimiterTest, ZeroRateMeansNoLimit) {
  FakeClock clock;
  RateLimiter limiter(clock, {.per_second = 0});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Admit("a").admitted);
}

class AuditTest : public ::testing::Test {
 protected:
  AuditEntry Entry(const std::string& target) {
    return AuditEntry{.actor = "ops",
                      .role = "operator",
                      .method = "POST",
                      .route = "/jobs/{name}/trigger",
                      .target = target,
                      .status = 202,
                      .remote = "10.0.0.7"};
  }
  std::vector<std::string> Targets(const AuditLog::Page& page) {
    std::vector<std::string> out;
    for (const auto& e : page.entries) out.push_back(e.target);
    return out;
  }
  FakeClock clock_;
  std::unique_ptr<store::SqliteKv> kv_ = OpenKv(clock_);
  model::Keys keys_;
};

TEST_F(AuditTest, EntriesListNewestFirstInPages) {
  AuditLog audit(*kv_, clock_, keys_, {});
  for (const char* t : {"a", "b", "c", "d", "e"}) {
    ASSERT_TRUE(audit.Record(Entry(t)).ok());
    clock_.Advance(absl::Seconds(1));
  }
  // List reads this log's own entries even if they were still queued.
  auto first = audit.List(2, "");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Targets(*first), ElementsAre("e", "d"));
  EXPECT_EQ(first->entries[0].actor, "ops");
  EXPECT_EQ(first->entries[0].status, 202);
  EXPECT_EQ(first->entries[0].time, clock_.Now() - absl::Seconds(1));
  auto second = audit.List(2, first->next_cursor);
  ASSERT_TRUE(second.ok());
  EXPECT_THAT(Targets(*second), ElementsAre("c", "b"));
  auto last = audit.List(2, second->next_cursor);
  ASSERT_TRUE(last.ok());
  EXPECT_THAT(Targets(*last), ElementsAre("a"));
  EXPECT_TRUE(last->next_cursor.empty());
  EXPECT_EQ(audit.List(2, "../jobs").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(audit.List(0, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditTest, OldEntriesAndEntriesBeyondTheCapAreDeleted) {
  AuditLog audit(
      *kv_, clock_, keys_,
      {.retention = absl::Hours(1), .max_entries = 3, .prune_interval = absl::Minutes(1)});
  auto record = [&](const char* target) {
    ASSERT_TRUE(audit.Record(Entry(target)).ok());
    ASSERT_TRUE(audit.Flush(absl::Seconds(30)));  // written (and pruned if due) in order
  };
  record("old");
  clock_.Advance(absl::Hours(2));
  for (const char* t : {"a", "b", "c", "d"}) {
    record(t);
    clock_.Advance(absl::Seconds(1));
  }
  // Pruned at the first write after the interval: "old" by age (at "a"), then "a" and "b" by
  // the cap (at "e").
  clock_.Advance(absl::Minutes(1));
  record("e");
  auto page = audit.List(10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Targets(*page), ElementsAre("e", "d", "c"));
}

TEST_F(AuditTest, AnEntryRecordedWhileTheStoreIsDownIsWrittenWhenItComesBack) {
  // Before: Record wrote synchronously, so an API call during a store outage waited for the
  // store's deadline before its answer (EtcdFailures.MemberLossAndFullOutage: the POST during
  // the outage got no answer) and its entry was lost.
  worker::testing::FlakyKv flaky(*kv_);
  AuditLog audit(flaky, clock_, keys_, {});
  flaky.SetDown(true);
  ASSERT_TRUE(audit.Record(Entry("during-outage")).ok());
  EXPECT_FALSE(audit.Flush(absl::Milliseconds(300))) << "nothing can be written yet";
  flaky.SetDown(false);
  ASSERT_TRUE(audit.Flush(absl::Seconds(30)));
  auto page = audit.List(10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Targets(*page), ElementsAre("during-outage"));
}

TEST_F(AuditTest, AFullQueueDropsNewEntriesWithAClearError) {
  worker::testing::FlakyKv flaky(*kv_);
  flaky.SetDown(true);
  AuditLog audit(flaky, clock_, keys_, {.max_queued = 2});
  // The writer may hold one batch while it retries; at most 2 more wait in the queue.
  absl::Status last;
  for (int i = 0; i < 5 && last.ok(); ++i) last = audit.Record(Entry("x"));
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted);
  flaky.SetDown(false);
}

TEST(AuditCodec, RoundTrips) {
  AuditEntry e{.time = absl::FromUnixMillis(1234567),
               .actor = "a",
               .role = "admin",
               .method = "DELETE",
               .route = "/jobs/{name}",
               .target = "备份",
               .status = 204,
               .remote = "::1"};
  auto back = DecodeAuditEntry(EncodeAuditEntry(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->target, "备份");
  EXPECT_EQ(back->time, e.time);
  EXPECT_EQ(back->status, 204);
  EXPECT_FALSE(DecodeAuditEntry("{}").ok());
}

}  // namespace
}  // namespace hg::auth

namespace hg::auth {
namespace {

TEST(AuthModeTest, TokensAreRequiredBeyondLoopbackUnlessTheOperatorSaysInsecure) {
  auto d = [](std::string_view address, AuthMode mode, bool insecure) {
    return DecideAuth(address, mode, insecure);
  };
  EXPECT_FALSE(d("127.0.0.1:8080", AuthMode::kAuto, false)->required);
  EXPECT_FALSE(d("[::1]:8080", AuthMode::kAuto, false)->required);
  EXPECT_FALSE(d("localhost:8080", AuthMode::kAuto, false)->required);
  EXPECT_TRUE(d("0.0.0.0:8080", AuthMode::kAuto, false)->required);
  EXPECT_TRUE(d(":8080", AuthMode::kAuto, false)->required);
  EXPECT_TRUE(d("10.1.2.3:8080", AuthMode::kAuto, false)->required);
  EXPECT_TRUE(d("127.evil.com:8080", AuthMode::kAuto, false)->required);
  EXPECT_TRUE(d("127.0.0.1:8080", AuthMode::kOn, false)->required);
  EXPECT_FALSE(d("127.0.0.1:8080", AuthMode::kOff, false)->required);
  auto refused = d("0.0.0.0:8080", AuthMode::kOff, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--insecure-no-auth"));
  auto insecure = d("0.0.0.0:8080", AuthMode::kAuto, true);
  ASSERT_TRUE(insecure.ok());
  EXPECT_FALSE(insecure->required);
  EXPECT_TRUE(insecure->insecure_no_auth);
  EXPECT_THAT(insecure->notice, HasSubstr("OFF"));
  EXPECT_FALSE(d("0.0.0.0:8080", AuthMode::kOn, true).ok());
  EXPECT_FALSE(ParseAuthMode("yes").ok());
}

}  // namespace
}  // namespace hg::auth
