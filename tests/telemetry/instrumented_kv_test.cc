#include "telemetry/instrumented_kv.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/local/sqlite_kv.h"

namespace hg::telemetry {
namespace {

using ::testing::HasSubstr;

TEST(InstrumentedKvTest, TimesEveryCallAndCountsErrors) {
  FakeClock clock;
  auto inner = store::SqliteKv::Open(":memory:", clock);
  ASSERT_TRUE(inner.ok()) << inner.status();
  Metrics metrics({});
  StoreProbe probe(metrics);
  InstrumentedKv kv(**inner, probe, clock);

  ASSERT_TRUE(kv.Put({.key = "a", .value = "1"}).ok());
  auto got = kv.Range(store::RangeRequest::Key("a"));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].value, "1");  // forwarded unchanged
  ASSERT_TRUE(kv.Txn({.success = {store::PutRequest{.key = "b", .value = "2"}}}).ok());
  ASSERT_TRUE(kv.Delete(store::DeleteRequest::Key("b")).ok());
  auto lease = kv.LeaseGrant(10);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(kv.LeaseKeepAliveOnce(lease->id).ok());
  ASSERT_TRUE(kv.LeaseTimeToLive(lease->id, false).ok());
  ASSERT_TRUE(kv.LeaseRevoke(lease->id).ok());
  EXPECT_FALSE(kv.LeaseKeepAliveOnce(lease->id).ok());  // revoked: an error, counted
  EXPECT_FALSE(kv.Range(store::RangeRequest{}).ok());   // empty key: invalid argument
  auto watch = kv.StartWatch(store::WatchRequest::Prefix("a"), [](const store::WatchResponse&) {});
  ASSERT_TRUE(watch.ok());
  (*watch)->Cancel();
  auto status = kv.Status();
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(kv.Compact(status->revision).ok());

  const std::string text = metrics.Serialize();
  for (const char* op : {"put", "txn", "delete", "lease_grant", "lease_ttl", "lease_revoke",
                         "watch", "compact", "status"}) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("hourglass_store_request_duration_seconds_count{op=\"",
                                             op, "\"} 1")));
  }
  EXPECT_THAT(text, HasSubstr(R"(hourglass_store_request_duration_seconds_count{op="range"} 2)"));
  EXPECT_THAT(
      text, HasSubstr(R"(hourglass_store_request_duration_seconds_count{op="lease_keepalive"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_store_errors_total{op="lease_keepalive"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_store_errors_total{op="range"} 1)"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr(R"(hourglass_store_errors_total{op="put"})")));
}

}  // namespace
}  // namespace hg::telemetry
