// The cases of the Kv conformance suite (see kv_conformance.h). Every expectation here is etcd
// v3 behaviour; revisions are checked relative to a base read at the start of each test, so a
// reused etcd (FreshRevisions() == false) passes too.
#include "tests/store/kv_conformance.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "store/request_checks.h"

namespace hg::store::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

MATCHER_P2(KvIs, key, value, "") { return arg.key == key && arg.value == value; }

absl::StatusCode Code(const absl::Status& s) { return s.code(); }

Revision MustPut(Kv& kv, const std::string& key, const std::string& value, LeaseId lease = 0) {
  auto resp = kv.Put({.key = key, .value = value, .lease = lease});
  EXPECT_TRUE(resp.ok()) << resp.status();
  return resp.ok() ? resp->revision : -1;
}

std::optional<KeyValue> MustGet(Kv& kv, const std::string& key) {
  auto got = Get(kv, key);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : std::nullopt;
}

std::vector<std::string> Keys(const RangeResponse& r) {
  std::vector<std::string> keys;
  for (const auto& kv : r.kvs) keys.push_back(kv.key);
  return keys;
}

RangeResponse MustRange(Kv& kv, const RangeRequest& req) {
  auto resp = kv.Range(req);
  EXPECT_TRUE(resp.ok()) << resp.status();
  return resp.ok() ? *resp : RangeResponse{};
}

// Polls `pred` in real time until it holds or kWaitDeadline passes.
bool Eventually(const std::function<bool()>& pred) {
  absl::Time deadline = absl::Now() + kWaitDeadline;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return pred();
}

// Records every delivery of a watch. Declare it before the Watch it feeds so the watch is
// destroyed first.
class Collector {
 public:
  WatchHandler Handler() {
    return [this](const WatchResponse& r) {
      absl::MutexLock lock(&mu_);
      if (done_) violations_++;  // nothing may follow a final status
      if (!r.status.ok()) done_ = true;
      responses_.push_back(r);
    };
  }

  // Waits until at least `n` events have arrived (or a final status); returns all events.
  std::vector<WatchEvent> WaitEvents(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return done_ || CountEvents() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWaitDeadline);
    return EventsLocked();
  }

  // Waits for the final (non-OK) status.
  absl::Status WaitFinal() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), kWaitDeadline);
    for (const auto& r : responses_) {
      if (!r.status.ok()) return r.status;
    }
    return absl::OkStatus();
  }

  std::vector<WatchEvent> Events() {
    absl::MutexLock lock(&mu_);
    return EventsLocked();
  }
  std::vector<WatchResponse> Responses() {
    absl::MutexLock lock(&mu_);
    return responses_;
  }
  int violations() {
    absl::MutexLock lock(&mu_);
    return violations_;
  }

 private:
  size_t CountEvents() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t n = 0;
    for (const auto& r : responses_) n += r.events.size();
    return n;
  }
  std::vector<WatchEvent> EventsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<WatchEvent> out;
    for (const auto& r : responses_) out.insert(out.end(), r.events.begin(), r.events.end());
    return out;
  }

  absl::Mutex mu_;
  std::vector<WatchResponse> responses_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int violations_ ABSL_GUARDED_BY(mu_) = 0;
};

// Waits for one event per key; expects them in this order, at `rev`, in one delivery.
std::vector<WatchEvent> ExpectOneBatch(Collector& c, const std::vector<std::string>& keys,
                                       Revision rev) {
  std::vector<WatchEvent> events = c.WaitEvents(keys.size());
  std::vector<std::string> got;
  for (const auto& e : events) {
    got.push_back(e.kv.key);
    EXPECT_EQ(e.kv.mod_revision, rev) << e.kv.key;
  }
  EXPECT_EQ(got, keys);
  int batches_with_events = 0;
  for (const auto& resp : c.Responses()) batches_with_events += resp.events.empty() ? 0 : 1;
  EXPECT_EQ(batches_with_events, 1);
  return events;
}

std::unique_ptr<Watch> MustWatch(Kv& kv, const WatchRequest& req, Collector& c) {
  auto w = kv.StartWatch(req, c.Handler());
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? std::move(*w) : nullptr;
}

}  // namespace

void KvConformanceTest::SetUp() { factory_ = GetParam().make_factory(); }

void KvConformanceTest::TearDown() {
  kvs_.clear();
  factory_.reset();
}

Kv& KvConformanceTest::MakeKv() {
  kvs_.push_back(factory_->Make());
  return *kvs_.back();
}

Revision KvConformanceTest::CurrentRevision(Kv& kv) {
  auto r = kv.Range(RangeRequest::Key("\x01probe"));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->revision : -1;
}

// ---------------------------------------------------------------------------------------------
// Put / Get / revisions

TEST_P(KvConformanceTest, FreshStoreIsEmpty) {
  Kv& kv = MakeKv();
  Revision base = CurrentRevision(kv);
  if (factory().FreshRevisions()) {
    EXPECT_EQ(base, 1);
  }
  EXPECT_GE(base, 1);
  RangeResponse all = MustRange(kv, RangeRequest::Prefix(""));
  EXPECT_THAT(all.kvs, IsEmpty());
  EXPECT_EQ(all.count, 0);
}

TEST_P(KvConformanceTest, PutThenGet) {
  Kv& kv = MakeKv();
  Revision base = CurrentRevision(kv);
  Revision rev = MustPut(kv, "a", "1");
  EXPECT_EQ(rev, base + 1);
  auto got = MustGet(kv, "a");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, (KeyValue{.key = "a",
                            .value = "1",
                            .create_revision = rev,
                            .mod_revision = rev,
                            .version = 1,
                            .lease = 0}));
  EXPECT_EQ(MustGet(kv, "missing"), std::nullopt);
  // Binary keys and values round-trip unchanged.
  std::string bin_key("k\0\xff\x01", 4), bin_val("\0\x80v\xff", 4);
  MustPut(kv, bin_key, bin_val);
  EXPECT_THAT(MustGet(kv, bin_key), Optional(KvIs(bin_key, bin_val)));
}

TEST_P(KvConformanceTest, EveryWriteAdvancesRevisionByOne) {
  Kv& kv = MakeKv();
  Revision base = CurrentRevision(kv);
  EXPECT_EQ(MustPut(kv, "a", "1"), base + 1);
  EXPECT_EQ(MustPut(kv, "a", "2"), base + 2);
  EXPECT_EQ(MustPut(kv, "b", "1"), base + 3);
  auto del = kv.Delete(DeleteRequest::Key("a"));
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(del->deleted, 1);
  EXPECT_EQ(del->revision, base + 4);
  // Deleting nothing changes nothing (etcd: no new revision).
  auto del2 = kv.Delete(DeleteRequest::Key("a"));
  ASSERT_TRUE(del2.ok()) << del2.status();
  EXPECT_EQ(del2->deleted, 0);
  EXPECT_EQ(del2->revision, base + 4);
  EXPECT_EQ(CurrentRevision(kv), base + 4);
}

TEST_P(KvConformanceTest, CreateModRevisionAndVersion) {
  Kv& kv = MakeKv();
  Revision r1 = MustPut(kv, "k", "a");
  Revision r2 = MustPut(kv, "k", "b");
  Revision r3 = MustPut(kv, "k", "c");
  auto got = MustGet(kv, "k");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->create_revision, r1);
  EXPECT_EQ(got->mod_revision, r3);
  EXPECT_EQ(got->version, 3);
  EXPECT_LT(r1, r2);
  ASSERT_TRUE(kv.Delete(DeleteRequest::Key("k")).ok());
  Revision r5 = MustPut(kv, "k", "d");
  got = MustGet(kv, "k");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->create_revision, r5);  // a new life after delete
  EXPECT_EQ(got->mod_revision, r5);
  EXPECT_EQ(got->version, 1);
}

TEST_P(KvConformanceTest, PutPrevKv) {
  Kv& kv = MakeKv();
  auto first = kv.Put({.key = "k", .value = "1", .prev_kv = true});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->prev_kv, std::nullopt);
  auto second = kv.Put({.key = "k", .value = "2", .prev_kv = true});
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(second->prev_kv.has_value());
  EXPECT_EQ(*second->prev_kv, (KeyValue{.key = "k",
                                        .value = "1",
                                        .create_revision = first->revision,
                                        .mod_revision = first->revision,
                                        .version = 1}));
  auto third = kv.Put({.key = "k", .value = "3"});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->prev_kv, std::nullopt);  // not asked for
}

TEST_P(KvConformanceTest, EmptyKeyIsInvalid) {
  Kv& kv = MakeKv();
  EXPECT_EQ(Code(kv.Put({.key = "", .value = "x"}).status()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(kv.Range(RangeRequest::Key("")).status()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code(kv.Delete(DeleteRequest::Key("")).status()), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Range

TEST_P(KvConformanceTest, PrefixRange) {
  Kv& kv = MakeKv();
  for (const char* k : {"a", "a/1", "a/2", "a/2/x", "a0", "b", "/"}) MustPut(kv, k, "v");
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix("a/"))), ElementsAre("a/1", "a/2", "a/2/x"));
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix("a"))),
              ElementsAre("a", "a/1", "a/2", "a/2/x", "a0"));
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix("c"))), IsEmpty());
  // [key, range_end) excludes range_end itself.
  EXPECT_THAT(Keys(MustRange(kv, {.key = "a/1", .range_end = "a/2/x"})), ElementsAre("a/1", "a/2"));
  // range_end "\0": every key >= key.
  EXPECT_THAT(Keys(MustRange(kv, {.key = "a0", .range_end = std::string(1, '\0')})),
              ElementsAre("a0", "b"));
}

TEST_P(KvConformanceTest, PrefixRangeWithFfBytes) {
  Kv& kv = MakeKv();
  const std::string ff = "\xff", ff1 = "\xff\x01", ffff = "\xff\xff", feff = "\xfe\xff", a = "a",
                    aff = "a\xff",
                    affb =
                        "a\xff"
                        "b",
                    b = "b";
  for (const auto& k : {ff, ff1, ffff, feff, a, aff, affb, b}) MustPut(kv, k, "v");
  // PrefixEnd("\xff") is "\0": every key >= "\xff".
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix(ff))), ElementsAre(ff, ff1, ffff));
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix(ffff))), ElementsAre(ffff));
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix("\xfe"))), ElementsAre(feff));
  // PrefixEnd("a\xff") is "b".
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix(aff))), ElementsAre(aff, affb));
  // Bytes >= 0x80 sort after ASCII (unsigned byte order).
  EXPECT_THAT(Keys(MustRange(kv, {.key = "b", .range_end = std::string(1, '\0')})),
              ElementsAre(b, feff, ff, ff1, ffff));
}

TEST_P(KvConformanceTest, EmptyPrefixIsEveryKey) {
  Kv& kv = MakeKv();
  const std::string low("\x01"), mid = "m", high = "\xff\xff";
  for (const auto& k : {low, mid, high}) MustPut(kv, k, "v");
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
  RangeResponse all = MustRange(kv, RangeRequest::Prefix(""));
  EXPECT_THAT(Keys(all), ElementsAre(low, mid, high));
  EXPECT_EQ(all.count, 3);
  auto del = kv.Delete({.key = "", .range_end = PrefixEnd(""), .prev_kv = false});
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(del->deleted, 3);
  EXPECT_THAT(MustRange(kv, RangeRequest::Prefix("")).kvs, IsEmpty());
}

TEST_P(KvConformanceTest, LimitMoreAndCount) {
  Kv& kv = MakeKv();
  for (const char* k : {"p/1", "p/2", "p/3", "p/4", "p/5", "q"}) MustPut(kv, k, "v");
  RangeRequest req = RangeRequest::Prefix("p/");
  req.limit = 2;
  RangeResponse r = MustRange(kv, req);
  EXPECT_THAT(Keys(r), ElementsAre("p/1", "p/2"));
  EXPECT_EQ(r.count, 5);
  EXPECT_TRUE(r.more);
  req.limit = 5;
  r = MustRange(kv, req);
  EXPECT_EQ(r.kvs.size(), 5u);
  EXPECT_FALSE(r.more);
  req.limit = 0;
  r = MustRange(kv, req);
  EXPECT_EQ(r.kvs.size(), 5u);
  EXPECT_EQ(r.count, 5);
  EXPECT_FALSE(r.more);
}

TEST_P(KvConformanceTest, KeysOnlyAndCountOnly) {
  Kv& kv = MakeKv();
  Revision r1 = MustPut(kv, "x/1", "one");
  MustPut(kv, "x/2", "two");
  RangeRequest req = RangeRequest::Prefix("x/");
  req.keys_only = true;
  RangeResponse r = MustRange(kv, req);
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, "x/1");
  EXPECT_EQ(r.kvs[0].value, "");
  EXPECT_EQ(r.kvs[0].mod_revision, r1);  // metadata stays
  EXPECT_EQ(r.kvs[1].value, "");
  req.keys_only = false;
  req.count_only = true;
  r = MustRange(kv, req);
  EXPECT_THAT(r.kvs, IsEmpty());
  EXPECT_EQ(r.count, 2);
}

TEST_P(KvConformanceTest, SortOrders) {
  Kv& kv = MakeKv();
  // Created in the order c, a, b; then a is modified last.
  MustPut(kv, "s/c", "v");
  MustPut(kv, "s/a", "v");
  MustPut(kv, "s/b", "v");
  MustPut(kv, "s/a", "v2");
  RangeRequest req = RangeRequest::Prefix("s/");
  req.sort_order = SortOrder::kDescend;
  req.sort_target = SortTarget::kKey;
  EXPECT_THAT(Keys(MustRange(kv, req)), ElementsAre("s/c", "s/b", "s/a"));
  req.sort_order = SortOrder::kAscend;
  req.sort_target = SortTarget::kCreateRevision;
  EXPECT_THAT(Keys(MustRange(kv, req)), ElementsAre("s/c", "s/a", "s/b"));
  req.sort_order = SortOrder::kDescend;
  req.sort_target = SortTarget::kModRevision;
  EXPECT_THAT(Keys(MustRange(kv, req)), ElementsAre("s/a", "s/b", "s/c"));
  // etcd: kNone with a non-key target sorts ascending by that target.
  req.sort_order = SortOrder::kNone;
  req.sort_target = SortTarget::kModRevision;
  EXPECT_THAT(Keys(MustRange(kv, req)), ElementsAre("s/c", "s/b", "s/a"));
  // The limit applies after sorting.
  req.sort_order = SortOrder::kDescend;
  req.sort_target = SortTarget::kKey;
  req.limit = 2;
  RangeResponse r = MustRange(kv, req);
  EXPECT_THAT(Keys(r), ElementsAre("s/c", "s/b"));
  EXPECT_TRUE(r.more);
  EXPECT_EQ(r.count, 3);
}

TEST_P(KvConformanceTest, RangeAtOldRevision) {
  Kv& kv = MakeKv();
  Revision r1 = MustPut(kv, "h/a", "1");
  Revision r2 = MustPut(kv, "h/a", "2");
  Revision r3 = MustPut(kv, "h/b", "1");
  auto del = kv.Delete(DeleteRequest::Key("h/a"));
  ASSERT_TRUE(del.ok());
  Revision r4 = del->revision;
  Revision r5 = MustPut(kv, "h/a", "3");

  auto at = [&](Revision rev) {
    RangeRequest req = RangeRequest::Prefix("h/");
    req.revision = rev;
    return MustRange(kv, req);
  };
  RangeResponse at1 = at(r1);
  ASSERT_EQ(at1.kvs.size(), 1u);
  EXPECT_EQ(
      at1.kvs[0],
      (KeyValue{
          .key = "h/a", .value = "1", .create_revision = r1, .mod_revision = r1, .version = 1}));
  EXPECT_EQ(at1.revision, r5);  // the header revision is the store's current one
  RangeResponse at2 = at(r2);
  ASSERT_EQ(at2.kvs.size(), 1u);
  EXPECT_EQ(at2.kvs[0].value, "2");
  EXPECT_EQ(at2.kvs[0].version, 2);
  EXPECT_EQ(at2.kvs[0].create_revision, r1);
  EXPECT_THAT(Keys(at(r3)), ElementsAre("h/a", "h/b"));
  EXPECT_THAT(Keys(at(r4)), ElementsAre("h/b"));
  RangeResponse at5 = at(r5);
  ASSERT_EQ(at5.kvs.size(), 2u);
  EXPECT_EQ(at5.kvs[0].create_revision, r5);
  // Limit and count apply at the old revision too.
  RangeRequest lim = RangeRequest::Prefix("h/");
  lim.revision = r3;
  lim.limit = 1;
  RangeResponse l = MustRange(kv, lim);
  EXPECT_THAT(Keys(l), ElementsAre("h/a"));
  EXPECT_EQ(l.count, 2);
  EXPECT_TRUE(l.more);
  // A future revision is kOutOfRange but not "compacted".
  RangeRequest future = RangeRequest::Prefix("h/");
  future.revision = r5 + 10;
  auto f = kv.Range(future);
  EXPECT_EQ(Code(f.status()), absl::StatusCode::kOutOfRange);
  EXPECT_FALSE(IsCompacted(f.status()));
}

TEST_P(KvConformanceTest, DeleteRangeWithPrevKvs) {
  Kv& kv = MakeKv();
  Revision base = CurrentRevision(kv);
  MustPut(kv, "d/1", "one");
  MustPut(kv, "d/2", "two");
  MustPut(kv, "e", "keep");
  auto del = kv.Delete({.key = "d/", .range_end = PrefixEnd("d/"), .prev_kv = true});
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(del->deleted, 2);
  EXPECT_EQ(del->revision, base + 4);  // one revision for the whole range
  EXPECT_THAT(del->prev_kvs, ElementsAre(KvIs("d/1", "one"), KvIs("d/2", "two")));
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix(""))), ElementsAre("e"));
  auto del2 = kv.Delete(DeleteRequest::Key("e"));
  ASSERT_TRUE(del2.ok());
  EXPECT_THAT(del2->prev_kvs, IsEmpty());  // not asked for
}

// ---------------------------------------------------------------------------------------------
// Txn

TEST_P(KvConformanceTest, TxnTakesThenOrElse) {
  Kv& kv = MakeKv();
  MustPut(kv, "t", "old");
  Revision base = CurrentRevision(kv);
  TxnRequest txn{
      .compare = {Compare::Value("t", Compare::Result::kEqual, "old")},
      .success = {PutRequest{.key = "t", .value = "new", .prev_kv = true}, RangeRequest::Key("t"),
                  DeleteRequest{.key = "u", .prev_kv = true}},
      .failure = {RangeRequest::Key("t")},
  };
  auto r = kv.Txn(txn);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, base + 1);
  ASSERT_EQ(r->responses.size(), 3u);
  const auto* put = std::get_if<PutResponse>(&r->responses[0]);
  ASSERT_NE(put, nullptr);
  EXPECT_THAT(put->prev_kv, Optional(KvIs("t", "old")));
  const auto* range = std::get_if<RangeResponse>(&r->responses[1]);
  ASSERT_NE(range, nullptr);
  // A read later in the txn sees the txn's earlier writes.
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0].value, "new");
  EXPECT_EQ(range->kvs[0].mod_revision, base + 1);
  const auto* del = std::get_if<DeleteResponse>(&r->responses[2]);
  ASSERT_NE(del, nullptr);
  EXPECT_EQ(del->deleted, 0);

  // The same txn again: the compare now fails, the else branch runs.
  r = kv.Txn(txn);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->succeeded);
  ASSERT_EQ(r->responses.size(), 1u);
  range = std::get_if<RangeResponse>(&r->responses[0]);
  ASSERT_NE(range, nullptr);
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0].value, "new");
}

TEST_P(KvConformanceTest, TxnIsOneRevision) {
  Kv& kv = MakeKv();
  MustPut(kv, "gone", "x");
  Revision base = CurrentRevision(kv);
  auto r = kv.Txn(
      {.success = {PutRequest{.key = "m/1", .value = "a"}, PutRequest{.key = "m/2", .value = "b"},
                   DeleteRequest::Key("gone"), PutRequest{.key = "m/3", .value = "c"}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);  // no compare: true
  EXPECT_EQ(r->revision, base + 1);
  EXPECT_EQ(CurrentRevision(kv), base + 1);
  RangeResponse all = MustRange(kv, RangeRequest::Prefix("m/"));
  ASSERT_EQ(all.kvs.size(), 3u);
  for (const auto& k : all.kvs) {
    EXPECT_EQ(k.create_revision, base + 1);
    EXPECT_EQ(k.mod_revision, base + 1);
  }
  EXPECT_EQ(MustGet(kv, "gone"), std::nullopt);
}

TEST_P(KvConformanceTest, TxnWithoutWritesAddsNoRevision) {
  Kv& kv = MakeKv();
  MustPut(kv, "r", "1");
  Revision base = CurrentRevision(kv);
  auto r = kv.Txn({.compare = {Compare::Version("r", Compare::Result::kGreater, 5)},
                   .success = {PutRequest{.key = "r", .value = "2"}},
                   .failure = {RangeRequest::Key("r")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(r->revision, base);
  EXPECT_EQ(CurrentRevision(kv), base);
  // A txn whose only write deletes nothing also adds no revision.
  r = kv.Txn({.success = {DeleteRequest::Key("nothing-here")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, base);
  EXPECT_EQ(CurrentRevision(kv), base);
}

TEST_P(KvConformanceTest, TxnCompareOnMissingKey) {
  Kv& kv = MakeKv();
  using R = Compare::Result;
  auto holds = [&](const Compare& c) {
    auto r = kv.Txn({.compare = {c}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->succeeded;
  };
  // A missing key has version, create and mod revision 0 and lease 0 ...
  EXPECT_TRUE(holds(Compare::Version("nope", R::kEqual, 0)));
  EXPECT_TRUE(holds(Compare::CreateRevision("nope", R::kEqual, 0)));
  EXPECT_TRUE(holds(Compare::ModRevision("nope", R::kEqual, 0)));
  EXPECT_TRUE(holds(Compare::Lease("nope", R::kEqual, 0)));
  EXPECT_TRUE(holds(Compare::ModRevision("nope", R::kLess, 1)));
  EXPECT_FALSE(holds(Compare::Version("nope", R::kGreater, 0)));
  EXPECT_FALSE(holds(Compare::CreateRevision("nope", R::kNotEqual, 0)));
  // ... and every value compare on it is false.
  EXPECT_FALSE(holds(Compare::Value("nope", R::kEqual, "")));
  EXPECT_FALSE(holds(Compare::Value("nope", R::kNotEqual, "x")));
  EXPECT_FALSE(holds(Compare::Value("nope", R::kLess, "zzz")));
}

TEST_P(KvConformanceTest, TxnCompareTargets) {
  Kv& kv = MakeKv();
  using R = Compare::Result;
  Revision c = MustPut(kv, "k", "b");
  Revision m = MustPut(kv, "k", "b");  // version 2
  auto holds = [&](const Compare& cmp) {
    auto r = kv.Txn({.compare = {cmp}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->succeeded;
  };
  EXPECT_TRUE(holds(Compare::Version("k", R::kEqual, 2)));
  EXPECT_TRUE(holds(Compare::Version("k", R::kGreater, 1)));
  EXPECT_TRUE(holds(Compare::Version("k", R::kLess, 3)));
  EXPECT_TRUE(holds(Compare::Version("k", R::kNotEqual, 1)));
  EXPECT_FALSE(holds(Compare::Version("k", R::kGreater, 2)));
  EXPECT_TRUE(holds(Compare::CreateRevision("k", R::kEqual, c)));
  EXPECT_FALSE(holds(Compare::CreateRevision("k", R::kEqual, m)));
  EXPECT_TRUE(holds(Compare::ModRevision("k", R::kEqual, m)));
  EXPECT_TRUE(holds(Compare::ModRevision("k", R::kGreater, c)));
  EXPECT_FALSE(holds(Compare::ModRevision("k", R::kLess, m)));
  // Values compare as bytes.
  EXPECT_TRUE(holds(Compare::Value("k", R::kEqual, "b")));
  EXPECT_TRUE(holds(Compare::Value("k", R::kGreater, "a")));
  EXPECT_TRUE(holds(Compare::Value("k", R::kGreater, "a\xff")));
  EXPECT_TRUE(holds(Compare::Value("k", R::kLess, "b\x01")));
  EXPECT_TRUE(holds(Compare::Value("k", R::kLess, "\x80")));
  EXPECT_TRUE(holds(Compare::Value("k", R::kNotEqual, "c")));
  EXPECT_FALSE(holds(Compare::Value("k", R::kNotEqual, "b")));
  EXPECT_TRUE(holds(Compare::Lease("k", R::kEqual, 0)));
  auto lease = kv.LeaseGrant(30);
  ASSERT_TRUE(lease.ok()) << lease.status();
  MustPut(kv, "k", "b", lease->id);
  EXPECT_TRUE(holds(Compare::Lease("k", R::kEqual, lease->id)));
  EXPECT_FALSE(holds(Compare::Lease("k", R::kEqual, 0)));
  ASSERT_TRUE(kv.LeaseRevoke(lease->id).ok());
}

TEST_P(KvConformanceTest, TxnAllComparesMustHold) {
  Kv& kv = MakeKv();
  using R = Compare::Result;
  MustPut(kv, "a", "1");
  MustPut(kv, "b", "2");
  auto r =
      kv.Txn({.compare = {Compare::Value("a", R::kEqual, "1"), Compare::Value("b", R::kEqual, "2")},
              .success = {PutRequest{.key = "ok", .value = "1"}}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->succeeded);
  r = kv.Txn({.compare = {Compare::Value("a", R::kEqual, "1"), Compare::Value("b", R::kEqual, "3")},
              .success = {PutRequest{.key = "bad", .value = "1"}},
              .failure = {PutRequest{.key = "else", .value = "1"}}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(MustGet(kv, "bad"), std::nullopt);
  EXPECT_NE(MustGet(kv, "else"), std::nullopt);
}

TEST_P(KvConformanceTest, TxnCompareOverRange) {
  Kv& kv = MakeKv();
  using R = Compare::Result;
  MustPut(kv, "g/1", "x");
  MustPut(kv, "g/2", "x");
  Compare all_v1 = Compare::Version("g/", R::kEqual, 1);
  all_v1.range_end = PrefixEnd("g/");
  auto r = kv.Txn({.compare = {all_v1}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);
  MustPut(kv, "g/2", "y");  // version 2 now
  r = kv.Txn({.compare = {all_v1}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->succeeded);
}

TEST_P(KvConformanceTest, TxnRejectsDuplicateKeyWrites) {
  Kv& kv = MakeKv();
  Revision base = CurrentRevision(kv);
  auto r = kv.Txn({.success = {PutRequest{.key = "dup", .value = "1"},
                               PutRequest{.key = "dup", .value = "2"}}});
  EXPECT_EQ(Code(r.status()), absl::StatusCode::kInvalidArgument);
  r = kv.Txn({.success = {DeleteRequest::Prefix("dd/"), PutRequest{.key = "dd/x", .value = "1"}}});
  EXPECT_EQ(Code(r.status()), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CurrentRevision(kv), base);
}

TEST_P(KvConformanceTest, ConcurrentCasIncrementsAreExact) {
  Kv& kv = MakeKv();
  MustPut(kv, "counter", "0");
  Revision base = CurrentRevision(kv);
  constexpr int kThreads = 4, kPerThread = 25;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread;) {
        auto cur = Get(kv, "counter");
        if (!cur.ok() || !cur->has_value()) {
          errors++;
          return;
        }
        int n = std::stoi((*cur)->value);
        auto r =
            kv.Txn({.compare = {Compare::ModRevision("counter", Compare::Result::kEqual,
                                                     (*cur)->mod_revision)},
                    .success = {PutRequest{.key = "counter", .value = std::to_string(n + 1)}}});
        if (!r.ok()) {
          errors++;
          return;
        }
        if (r->succeeded) ++i;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  auto final = MustGet(kv, "counter");
  ASSERT_TRUE(final.has_value());
  EXPECT_EQ(final->value, std::to_string(kThreads * kPerThread));
  EXPECT_EQ(final->version, kThreads * kPerThread + 1);
  EXPECT_EQ(CurrentRevision(kv), base + kThreads * kPerThread);  // failed CAS wrote nothing
}

// ---------------------------------------------------------------------------------------------
// Nested txns and etcd's request checks (each expectation verified against etcd 3.4.23)

namespace {

// The nested response at `i`, or a test failure.
const TxnResponse& NestedAt(const TxnResponse& r, size_t i) {
  static const TxnResponse kNone;
  if (i >= r.responses.size()) {
    ADD_FAILURE() << "no response " << i;
    return kNone;
  }
  const TxnResponse* nested = NestedResponse(r.responses[i]);
  if (nested == nullptr) ADD_FAILURE() << "response " << i << " is not a nested txn";
  return nested != nullptr ? *nested : kNone;
}

// The response at `i` as a T, or a test failure.
template <typename T>
const T& OpAt(const TxnResponse& r, size_t i) {
  static const T kNone{};
  const T* op = i < r.responses.size() ? std::get_if<T>(&r.responses[i]) : nullptr;
  if (op == nullptr) ADD_FAILURE() << "response " << i << " is missing or of another kind";
  return op != nullptr ? *op : kNone;
}

std::vector<TxnOp> Puts(const std::string& prefix, int n) {
  std::vector<TxnOp> ops;
  for (int i = 0; i < n; ++i) ops.push_back(PutRequest{.key = prefix + std::to_string(i)});
  return ops;
}

std::vector<TxnOp> Concat(std::vector<TxnOp> a, std::vector<TxnOp> b) {
  a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
  return a;
}

}  // namespace

TEST_P(KvConformanceTest, NestedTxnsTakeTheirOwnBranches) {
  Kv& kv = MakeKv();
  using R = Compare::Result;
  MustPut(kv, "n/a", "1");
  MustPut(kv, "n/b", "1");
  MustPut(kv, "n/c", "1");
  Revision base = CurrentRevision(kv);
  auto r = kv
               .Txn(
                   {
                       .compare = {Compare::Value("n/a", R::kEqual, "1")},
                       .success =
                           {
                               // Holds: its success branch runs.
                               Nested({.compare = {Compare::Value("n/a", R::kEqual, "1")},
                                       .success = {PutRequest{
                                           .key = "n/a", .value = "2", .prev_kv = true}},
                                       .failure = {PutRequest{.key = "n/a-failed", .value = "x"}}}),
                               // Fails: its failure branch runs, next to the others' success
                               // branches.
                               Nested(
                                   {.compare = {Compare::Value("n/b", R::kEqual, "stale")},
                                    .success = {PutRequest{.key = "n/b", .value = "2"}},
                                    .failure =
                                        {RangeRequest::Key("n/b"),
                                         PutRequest{.key = "n/b-conflict", .value = "x"}}}),
                               // No compares: holds.
                               Nested({.success = {DeleteRequest{.key = "n/c", .prev_kv = true}}}),
                               RangeRequest::Prefix("n/"),
                           },
                   });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, base + 1);
  ASSERT_EQ(r->responses.size(), 4u);

  const TxnResponse& first = NestedAt(*r, 0);
  EXPECT_TRUE(first.succeeded);
  EXPECT_EQ(first.revision, r->revision);
  ASSERT_EQ(first.responses.size(), 1u);
  EXPECT_THAT(OpAt<PutResponse>(first, 0).prev_kv, Optional(KvIs("n/a", "1")));

  const TxnResponse& second = NestedAt(*r, 1);
  EXPECT_FALSE(second.succeeded);
  EXPECT_EQ(second.revision, r->revision);
  ASSERT_EQ(second.responses.size(), 2u);
  EXPECT_THAT(OpAt<RangeResponse>(second, 0).kvs, ElementsAre(KvIs("n/b", "1")));
  OpAt<PutResponse>(second, 1);

  const TxnResponse& third = NestedAt(*r, 2);
  EXPECT_TRUE(third.succeeded);
  ASSERT_EQ(third.responses.size(), 1u);
  EXPECT_EQ(OpAt<DeleteResponse>(third, 0).deleted, 1);
  EXPECT_THAT(OpAt<DeleteResponse>(third, 0).prev_kvs, ElementsAre(KvIs("n/c", "1")));

  // The outer txn's last op sees every nested write.
  EXPECT_THAT(OpAt<RangeResponse>(*r, 3).kvs,
              ElementsAre(KvIs("n/a", "2"), KvIs("n/b", "1"), KvIs("n/b-conflict", "x")));
  EXPECT_EQ(NestedResponse(r->responses[3]), nullptr);
  EXPECT_EQ(MustGet(kv, "n/a-failed"), std::nullopt);
}

TEST_P(KvConformanceTest, NestedTxnWritesAreOneRevision) {
  Kv& kv = MakeKv();
  MustPut(kv, "o/gone", "x");
  Revision base = CurrentRevision(kv);
  auto r = kv.Txn({.success = {PutRequest{.key = "o/1", .value = "a"},
                               Nested({.success = {PutRequest{.key = "o/2", .value = "b"},
                                                   Nested({.success =
                                                               {
                                                                   PutRequest{.key = "o/3"},
                                                                   DeleteRequest::Key("o/gone"),
                                                               }})}}),
                               PutRequest{.key = "o/4", .value = "d"}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revision, base + 1);
  EXPECT_EQ(CurrentRevision(kv), base + 1);
  EXPECT_EQ(NestedAt(NestedAt(*r, 1), 1).revision, base + 1);
  RangeResponse written = MustRange(kv, RangeRequest::Prefix("o/"));
  ASSERT_EQ(written.kvs.size(), 4u);
  for (const auto& k : written.kvs) EXPECT_EQ(k.mod_revision, base + 1) << k.key;
  EXPECT_EQ(MustGet(kv, "o/gone"), std::nullopt);

  // Nested ops that change nothing (a delete of a missing key, a read) add no revision.
  r = kv.Txn(
      {.success = {RangeRequest::Key("o/1"), Nested({.success = {DeleteRequest::Key("o/none")}})}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revision, base + 1);
  EXPECT_EQ(CurrentRevision(kv), base + 1);
}

// etcd picks the branch of every txn, nested ones included, from the store as it was before the
// outer txn; only then does it apply the ops in order. So a nested compare does NOT see an
// earlier op's write, while a nested Range does.
TEST_P(KvConformanceTest, NestedComparesSeeTheStoreBeforeTheTxn) {
  Kv& kv = MakeKv();
  using R = Compare::Result;
  MustPut(kv, "x", "old");
  auto r = kv.Txn({.success = {PutRequest{.key = "x", .value = "new"},
                               Nested({.compare = {Compare::Value("x", R::kEqual, "new")},
                                       .success = {PutRequest{.key = "y", .value = "saw-new"}},
                                       .failure = {PutRequest{.key = "y", .value = "saw-old"},
                                                   RangeRequest::Key("x")}})}});
  ASSERT_TRUE(r.ok()) << r.status();
  const TxnResponse& nested = NestedAt(*r, 1);
  EXPECT_FALSE(nested.succeeded);
  ASSERT_EQ(nested.responses.size(), 2u);
  const auto* range = std::get_if<RangeResponse>(&nested.responses[1]);
  ASSERT_NE(range, nullptr);
  EXPECT_THAT(range->kvs, ElementsAre(KvIs("x", "new")));
  EXPECT_THAT(MustGet(kv, "y"), Optional(KvIs("y", "saw-old")));

  // Two levels down, after a delete: the compare still sees the key.
  r = kv.Txn(
      {.success = {DeleteRequest::Key("x"),
                   Nested({.success = {Nested(
                               {.compare = {Compare::Version("x", R::kGreater, 0)},
                                .success = {PutRequest{.key = "z", .value = "x-existed"}},
                                .failure = {PutRequest{.key = "z", .value = "x-gone"}}})}})}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(NestedAt(NestedAt(*r, 1), 0).succeeded);
  EXPECT_THAT(MustGet(kv, "z"), Optional(KvIs("z", "x-existed")));
  EXPECT_EQ(MustGet(kv, "x"), std::nullopt);
}

TEST_P(KvConformanceTest, NestedTxnDuplicateKeyRules) {
  Kv& kv = MakeKv();
  using R = Compare::Result;
  Revision base = CurrentRevision(kv);
  auto rejected = [&](const TxnRequest& t) {
    auto r = kv.Txn(t);
    return Code(r.status()) == absl::StatusCode::kInvalidArgument &&
           absl::StrContains(r.status().message(), "duplicate key given in txn request");
  };
  auto put = [](const std::string& k) { return PutRequest{.key = k, .value = "v"}; };
  // Two nested txns of one branch put the same key.
  EXPECT_TRUE(
      rejected({.success = {Nested({.success = {put("k")}}), Nested({.success = {put("k")}})}}));
  // ... also when one of them puts it only on its failure branch.
  EXPECT_TRUE(
      rejected({.success = {Nested({.success = {put("k")}}), Nested({.failure = {put("k")}})}}));
  // The enclosing branch and a nested txn put the same key, in either order.
  EXPECT_TRUE(rejected({.success = {put("k"), Nested({.success = {put("k")}})}}));
  EXPECT_TRUE(rejected({.success = {Nested({.success = {put("k")}}), put("k")}}));
  EXPECT_TRUE(rejected({.failure = {put("k"), Nested({.failure = {put("k")}})}}));
  // A delete of the enclosing branch covers a nested put, wherever it is.
  EXPECT_TRUE(
      rejected({.success = {DeleteRequest::Prefix("d/"), Nested({.success = {put("d/1")}})}}));
  EXPECT_TRUE(
      rejected({.success = {Nested({.success = {put("d/1")}}), DeleteRequest::Key("d/1")}}));
  // A nested delete covers a put of the enclosing branch, and of a LATER nested txn.
  EXPECT_TRUE(rejected({.success = {Nested({.success = {DeleteRequest::Key("k")}}), put("k")}}));
  EXPECT_TRUE(
      rejected({.success = {Nested({.success = {DeleteRequest{.key = "a", .range_end = "c"}}}),
                            Nested({.success = {put("b")}})}}));
  EXPECT_EQ(CurrentRevision(kv), base);

  auto accepted = [&](const TxnRequest& t) {
    auto r = kv.Txn(t);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok();
  };
  // The two branches of ONE nested txn may put the same key (only one of them runs).
  EXPECT_TRUE(accepted({.success = {Nested({.compare = {Compare::Version("k", R::kEqual, 0)},
                                            .success = {put("k")},
                                            .failure = {put("k")}})}}));
  // ... and a delete on one branch and a put on the other.
  EXPECT_TRUE(accepted(
      {.success = {Nested({.success = {DeleteRequest::Key("k")}, .failure = {put("k")}})}}));
  // The outer success and failure branches are checked apart.
  EXPECT_TRUE(accepted({.success = {put("k")}, .failure = {Nested({.success = {put("k")}})}}));
  // etcd's check is one-sided: a nested delete AFTER a nested put of the same key passes (and
  // runs in order: the key ends up deleted).
  EXPECT_TRUE(accepted({.success = {Nested({.success = {put("q")}}),
                                    Nested({.success = {DeleteRequest::Key("q")}})}}));
  EXPECT_EQ(MustGet(kv, "q"), std::nullopt);
  // A delete with range_end "\0" (every key >= key) conflicts with nothing in etcd's check.
  EXPECT_TRUE(accepted(
      {.success = {DeleteRequest{.key = "r", .range_end = std::string(1, '\0')}, put("s")}}));
  EXPECT_THAT(MustGet(kv, "s"), Optional(KvIs("s", "v")));
}

TEST_P(KvConformanceTest, TxnOpCountLimits) {
  Kv& kv = MakeKv();
  using R = Compare::Result;
  auto too_many = [&](const TxnRequest& t) {
    auto r = kv.Txn(t);
    return Code(r.status()) == absl::StatusCode::kInvalidArgument &&
           absl::StrContains(r.status().message(), "too many operations in txn request");
  };
  auto ok = [&](const TxnRequest& t) {
    auto r = kv.Txn(t);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok();
  };
  std::vector<Compare> compares;
  for (int i = 0; i < 129; ++i) {
    compares.push_back(Compare::Version("c/" + std::to_string(i), R::kEqual, 0));
  }
  // max(compares, success ops, failure ops) <= 128 (etcd's default --max-txn-ops).
  EXPECT_TRUE(ok({.success = Puts("a/", 128)}));
  EXPECT_TRUE(too_many({.success = Puts("b/", 129)}));
  EXPECT_TRUE(too_many({.failure = Puts("b/", 129)}));
  EXPECT_TRUE(too_many({.compare = compares}));
  compares.pop_back();
  EXPECT_TRUE(ok({.compare = compares, .success = Puts("c/", 128)}));

  // A nested txn may hold at most 128 minus its parent's count, recursively; siblings do not add
  // up: 99 puts + one nested txn is 100, so the nested one may hold 28.
  EXPECT_TRUE(ok({.success = Concat(Puts("d/", 99), {Nested({.success = Puts("e/", 28)})})}));
  EXPECT_TRUE(too_many({.success = Concat(Puts("d/", 99), {Nested({.success = Puts("e/", 29)})})}));
  EXPECT_TRUE(ok({.success = Concat(Puts("f/", 98), {Nested({.success = Puts("g/", 28)}),
                                                     Nested({.success = Puts("h/", 28)})})}));
  // The parent's count includes its compares and its other branch; so does the failure branch.
  EXPECT_TRUE(
      too_many({.success = Puts("i/", 100), .failure = {Nested({.success = Puts("j/", 29)})}}));
  EXPECT_TRUE(ok({.success = Puts("k/", 100), .failure = {Nested({.success = Puts("l/", 28)})}}));
  compares.pop_back();
  EXPECT_TRUE(ok({.success = {Nested({.compare = compares})}}));  // 1 + 127
  compares.push_back(Compare::Version("c/x", R::kEqual, 0));
  EXPECT_TRUE(too_many({.success = {Nested({.compare = compares})}}));
  // Deeper: 1, 1, then at most 126.
  EXPECT_TRUE(ok({.success = {Nested({.success = {Nested({.success = Puts("m/", 126)})}})}}));
  EXPECT_TRUE(too_many({.success = {Nested({.success = {Nested({.success = Puts("m/", 127)})}})}}));
  EXPECT_EQ(MustRange(kv, RangeRequest::Prefix("b/")).count, 0);
}

TEST_P(KvConformanceTest, RequestSizeLimit) {
  Kv& kv = MakeKv();
  constexpr int64_t kLimit = 3 * 1024 * 512;  // etcd's default --max-request-bytes, 1.5 MiB
  auto too_large = [](const absl::Status& st) {
    return Code(st) == absl::StatusCode::kInvalidArgument &&
           absl::StrContains(st.message(), "request is too large");
  };
  // RequestBytes may count one byte more than etcd (request_checks.h): stay 16 bytes clear.
  PutRequest put{.key = "big", .value = std::string(kLimit - 100, 'x')};
  put.value.resize(put.value.size() + (kLimit - 16 - RequestBytes(put)));
  ASSERT_EQ(RequestBytes(put), kLimit - 16);
  EXPECT_TRUE(kv.Put(put).ok());
  put.value.resize(put.value.size() + 32);
  Revision base = CurrentRevision(kv);
  EXPECT_TRUE(too_large(kv.Put(put).status()));
  // A txn of nested writes is one request: over the limit as a whole, it fails as a whole.
  std::string half(kLimit / 2, 'y');
  auto r = kv.Txn({.success = {Nested({.success = {PutRequest{.key = "h/1", .value = half}}}),
                               Nested({.success = {PutRequest{.key = "h/2", .value = half}}})}});
  EXPECT_TRUE(too_large(r.status())) << r.status();
  EXPECT_EQ(CurrentRevision(kv), base);
  // etcd serves a txn of Ranges only without the size check.
  r = kv.Txn({.success = {RangeRequest::Key(std::string(kLimit + 1000, 'k'))}});
  EXPECT_TRUE(r.ok()) << r.status();
}

// ---------------------------------------------------------------------------------------------
// Leases

TEST_P(KvConformanceTest, LeaseGrantAttachAndTimeToLive) {
  Kv& kv = MakeKv();
  auto g = kv.LeaseGrant(30);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_NE(g->id, 0);
  EXPECT_GE(g->ttl, 30);
  MustPut(kv, "l/1", "v", g->id);
  MustPut(kv, "l/2", "v", g->id);
  auto got = MustGet(kv, "l/1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->lease, g->id);
  auto ttl = kv.LeaseTimeToLive(g->id, /*keys=*/true);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->id, g->id);
  EXPECT_EQ(ttl->granted_ttl, g->ttl);
  EXPECT_GT(ttl->ttl, 0);
  EXPECT_LE(ttl->ttl, g->ttl);
  std::vector<std::string> keys = ttl->keys;
  std::sort(keys.begin(), keys.end());
  EXPECT_THAT(keys, ElementsAre("l/1", "l/2"));
  ttl = kv.LeaseTimeToLive(g->id, /*keys=*/false);
  ASSERT_TRUE(ttl.ok());
  EXPECT_THAT(ttl->keys, IsEmpty());
  // Two grants give two different ids.
  auto g2 = kv.LeaseGrant(30);
  ASSERT_TRUE(g2.ok());
  EXPECT_NE(g2->id, g->id);
  ASSERT_TRUE(kv.LeaseRevoke(g->id).ok());
  ASSERT_TRUE(kv.LeaseRevoke(g2->id).ok());
}

TEST_P(KvConformanceTest, PutWithUnknownLeaseFails) {
  Kv& kv = MakeKv();
  Revision base = CurrentRevision(kv);
  constexpr LeaseId kBogus = 0x1234'5678'9abc;
  EXPECT_EQ(Code(kv.Put({.key = "x", .value = "v", .lease = kBogus}).status()),
            absl::StatusCode::kFailedPrecondition);
  auto r = kv.Txn({.success = {PutRequest{.key = "x", .value = "v", .lease = kBogus}}});
  EXPECT_EQ(Code(r.status()), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CurrentRevision(kv), base);
  EXPECT_EQ(MustGet(kv, "x"), std::nullopt);
  EXPECT_EQ(Code(kv.LeaseKeepAliveOnce(kBogus).status()), absl::StatusCode::kNotFound);
  EXPECT_EQ(Code(kv.LeaseRevoke(kBogus)), absl::StatusCode::kNotFound);
  auto ttl = kv.LeaseTimeToLive(kBogus, false);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->ttl, -1);
}

TEST_P(KvConformanceTest, LeaseRevokeDeletesKeysInOneRevision) {
  Kv& kv = MakeKv();
  auto g = kv.LeaseGrant(30);
  ASSERT_TRUE(g.ok()) << g.status();
  MustPut(kv, "rv/1", "a", g->id);
  MustPut(kv, "rv/2", "b", g->id);
  MustPut(kv, "rv/3", "c");
  Revision base = CurrentRevision(kv);
  Collector c;
  auto w = MustWatch(kv, WatchRequest::Prefix("rv/"), c);
  ASSERT_TRUE(kv.LeaseRevoke(g->id).ok());
  EXPECT_EQ(CurrentRevision(kv), base + 1);
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix("rv/"))), ElementsAre("rv/3"));
  auto events = c.WaitEvents(2);
  ASSERT_EQ(events.size(), 2u);
  std::vector<std::string> keys;
  for (const auto& e : events) {
    EXPECT_EQ(e.type, EventType::kDelete);
    EXPECT_EQ(e.kv.mod_revision, base + 1);
    keys.push_back(e.kv.key);
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_THAT(keys, ElementsAre("rv/1", "rv/2"));
  // The lease is gone.
  EXPECT_EQ(Code(kv.LeaseRevoke(g->id)), absl::StatusCode::kNotFound);
  EXPECT_EQ(Code(kv.LeaseKeepAliveOnce(g->id).status()), absl::StatusCode::kNotFound);
  auto ttl = kv.LeaseTimeToLive(g->id, true);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->ttl, -1);
  EXPECT_EQ(Code(kv.Put({.key = "rv/4", .value = "v", .lease = g->id}).status()),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(KvConformanceTest, LeasePutWithoutLeaseDetachesKey) {
  Kv& kv = MakeKv();
  auto g = kv.LeaseGrant(30);
  ASSERT_TRUE(g.ok()) << g.status();
  MustPut(kv, "dt", "1", g->id);
  MustPut(kv, "dt", "2");  // lease 0: the key leaves the lease
  auto ttl = kv.LeaseTimeToLive(g->id, true);
  ASSERT_TRUE(ttl.ok());
  EXPECT_THAT(ttl->keys, IsEmpty());
  ASSERT_TRUE(kv.LeaseRevoke(g->id).ok());
  EXPECT_THAT(MustGet(kv, "dt"), Optional(KvIs("dt", "2")));
}

TEST_P(KvConformanceTest, LeaseExpiryDeletesKeysAndEmitsDeletes) {
  Kv& kv = MakeKv();
  auto g = kv.LeaseGrant(1);
  ASSERT_TRUE(g.ok()) << g.status();
  Revision r1 = MustPut(kv, "ex/1", "a", g->id);
  MustPut(kv, "ex/2", "b", g->id);
  MustPut(kv, "ex/keep", "c");
  Collector c;
  auto w = MustWatch(kv, {.key = "ex/", .range_end = PrefixEnd("ex/"), .prev_kv = true}, c);
  factory().AdvanceTime(absl::Seconds(g->ttl) + absl::Milliseconds(1500));
  EXPECT_TRUE(Eventually([&] { return MustRange(kv, RangeRequest::Prefix("ex/")).count == 1; }));
  EXPECT_THAT(Keys(MustRange(kv, RangeRequest::Prefix("ex/"))), ElementsAre("ex/keep"));
  auto events = c.WaitEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.mod_revision, events[1].kv.mod_revision);  // one revision
  for (const auto& e : events) {
    EXPECT_EQ(e.type, EventType::kDelete);
    ASSERT_TRUE(e.prev_kv.has_value());
    EXPECT_EQ(e.prev_kv->lease, g->id);
    EXPECT_GE(e.prev_kv->create_revision, r1);
  }
  EXPECT_EQ(Code(kv.LeaseKeepAliveOnce(g->id).status()), absl::StatusCode::kNotFound);
  auto ttl = kv.LeaseTimeToLive(g->id, false);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->ttl, -1);
}

TEST_P(KvConformanceTest, LeaseKeepAliveExtends) {
  Kv& kv = MakeKv();
  auto g = kv.LeaseGrant(2);
  ASSERT_TRUE(g.ok()) << g.status();
  MustPut(kv, "ka", "v", g->id);
  factory().AdvanceTime(absl::Seconds(g->ttl) * 0.6);
  auto renewed = kv.LeaseKeepAliveOnce(g->id);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(*renewed, g->ttl);
  factory().AdvanceTime(absl::Seconds(g->ttl) * 0.6);
  // 1.2 TTL after the grant, 0.6 TTL after the renewal: still alive.
  EXPECT_NE(MustGet(kv, "ka"), std::nullopt);
  auto ttl = kv.LeaseTimeToLive(g->id, false);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GE(ttl->ttl, 0);
  EXPECT_LE(ttl->ttl, g->ttl);
  ASSERT_TRUE(kv.LeaseRevoke(g->id).ok());
}

// ---------------------------------------------------------------------------------------------
// Watch

TEST_P(KvConformanceTest, WatchFromNow) {
  Kv& kv = MakeKv();
  MustPut(kv, "w/before", "x");  // not delivered: the watch starts after it
  Collector c;
  auto w = MustWatch(kv, WatchRequest::Prefix("w/"), c);
  Revision r1 = MustPut(kv, "w/a", "1");
  MustPut(kv, "other", "x");
  Revision r2 = MustPut(kv, "w/b", "2");
  auto del = kv.Delete(DeleteRequest::Key("w/a"));
  ASSERT_TRUE(del.ok());
  auto events = c.WaitEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EventType::kPut);
  EXPECT_EQ(
      events[0].kv,
      (KeyValue{
          .key = "w/a", .value = "1", .create_revision = r1, .mod_revision = r1, .version = 1}));
  EXPECT_EQ(events[0].prev_kv, std::nullopt);
  EXPECT_EQ(events[1].kv.key, "w/b");
  EXPECT_EQ(events[1].kv.mod_revision, r2);
  EXPECT_EQ(events[2].type, EventType::kDelete);
  EXPECT_EQ(events[2].kv.key, "w/a");
  EXPECT_EQ(events[2].kv.mod_revision, del->revision);
  for (const auto& resp : c.Responses()) {
    EXPECT_TRUE(resp.status.ok());
    if (!resp.events.empty()) {
      EXPECT_GE(resp.revision, resp.events.back().kv.mod_revision);
    }
  }
}

TEST_P(KvConformanceTest, WatchFromPastRevision) {
  Kv& kv = MakeKv();
  MustPut(kv, "p/a", "1");
  Revision r2 = MustPut(kv, "p/a", "2");
  Revision r3 = MustPut(kv, "p/b", "1");
  Collector c;
  auto w = MustWatch(kv, WatchRequest::Prefix("p/", r2), c);
  Revision r4 = MustPut(kv, "p/c", "1");
  auto events = c.WaitEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kv.mod_revision, r2);
  EXPECT_EQ(events[0].kv.value, "2");
  EXPECT_EQ(events[0].kv.version, 2);
  EXPECT_EQ(events[1].kv.mod_revision, r3);
  EXPECT_EQ(events[2].kv.mod_revision, r4);
}

TEST_P(KvConformanceTest, WatchPrevKv) {
  Kv& kv = MakeKv();
  Collector c;
  auto w = MustWatch(kv, {.key = "pk", .prev_kv = true}, c);
  Revision r1 = MustPut(kv, "pk", "1");
  MustPut(kv, "pk", "2");
  auto del = kv.Delete(DeleteRequest::Key("pk"));
  ASSERT_TRUE(del.ok());
  auto events = c.WaitEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].prev_kv, std::nullopt);
  EXPECT_THAT(
      events[1].prev_kv,
      Optional(KeyValue{
          .key = "pk", .value = "1", .create_revision = r1, .mod_revision = r1, .version = 1}));
  EXPECT_EQ(events[2].type, EventType::kDelete);
  EXPECT_EQ(events[2].kv.key, "pk");
  EXPECT_EQ(events[2].kv.value, "");
  EXPECT_EQ(events[2].kv.mod_revision, del->revision);
  ASSERT_TRUE(events[2].prev_kv.has_value());
  EXPECT_EQ(events[2].prev_kv->value, "2");
  EXPECT_EQ(events[2].prev_kv->version, 2);
}

TEST_P(KvConformanceTest, WatchSingleKeyIgnoresOthers) {
  Kv& kv = MakeKv();
  Collector c;
  auto w = MustWatch(kv, {.key = "one"}, c);
  MustPut(kv, "one/more", "x");
  MustPut(kv, "onf", "x");
  MustPut(kv, "on", "x");
  MustPut(kv, "one", "x");
  auto events = c.WaitEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "one");
}

TEST_P(KvConformanceTest, WatchTxnEventsShareOneBatch) {
  Kv& kv = MakeKv();
  MustPut(kv, "b/gone", "x");
  Collector c;
  auto w = MustWatch(kv, WatchRequest::Prefix("b/"), c);
  auto r =
      kv.Txn({.success = {PutRequest{.key = "b/2", .value = "x"},
                          PutRequest{.key = "b/1", .value = "y"}, DeleteRequest::Key("b/gone")}});
  ASSERT_TRUE(r.ok());
  // Events of one revision come in op order, in one batch.
  auto events = ExpectOneBatch(c, {"b/2", "b/1", "b/gone"}, r->revision);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].type, EventType::kDelete);
}

TEST_P(KvConformanceTest, WatchNestedTxnEventsShareTheRevisionInOpOrder) {
  Kv& kv = MakeKv();
  MustPut(kv, "w/gone", "x");
  Collector c;
  auto w = MustWatch(kv, WatchRequest::Prefix("w/"), c);
  auto r = kv.Txn(
      {.success = {PutRequest{.key = "w/3", .value = "a"},
                   Nested({.success = {PutRequest{.key = "w/1", .value = "b"},
                                       Nested({.success = {DeleteRequest::Key("w/gone")}})}}),
                   Nested({.compare = {Compare::Version("w/gone", Compare::Result::kEqual, 0)},
                           .success = {PutRequest{.key = "w/not", .value = "x"}},
                           .failure = {PutRequest{.key = "w/2", .value = "c"}}}),
                   PutRequest{.key = "w/0", .value = "d"}}});
  ASSERT_TRUE(r.ok()) << r.status();
  // Depth first, in op order, all at the txn's one revision.
  auto events = ExpectOneBatch(c, {"w/3", "w/1", "w/gone", "w/2", "w/0"}, r->revision);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[2].type, EventType::kDelete);
}

TEST_P(KvConformanceTest, WatchDeliversInRevisionOrderUnderConcurrentWrites) {
  Kv& kv = MakeKv();
  Collector c;
  auto w = MustWatch(kv, WatchRequest::Prefix("o/"), c);
  constexpr int kThreads = 3, kPerThread = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&kv, t] {
      for (int i = 0; i < kPerThread; ++i) {
        (void)kv.Put({.key = "o/" + std::to_string(t), .value = std::to_string(i)});
      }
    });
  }
  for (auto& t : threads) t.join();
  auto events = c.WaitEvents(kThreads * kPerThread);
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LT(events[i - 1].kv.mod_revision, events[i].kv.mod_revision) << i;
  }
  // Per key, values arrive in write order.
  std::vector<int> last(kThreads, -1);
  for (const auto& e : events) {
    int t = e.kv.key.back() - '0';
    int v = std::stoi(e.kv.value);
    EXPECT_EQ(v, last[t] + 1);
    last[t] = v;
  }
}

TEST_P(KvConformanceTest, WatchCancelStopsDelivery) {
  Kv& kv = MakeKv();
  Collector cancelled, fence;
  auto w = MustWatch(kv, WatchRequest::Prefix("c/"), cancelled);
  auto f = MustWatch(kv, WatchRequest::Prefix("c/"), fence);
  MustPut(kv, "c/1", "x");
  ASSERT_EQ(cancelled.WaitEvents(1).size(), 1u);
  w->Cancel();
  w->Cancel();  // idempotent
  MustPut(kv, "c/2", "x");
  ASSERT_EQ(fence.WaitEvents(2).size(), 2u);
  absl::SleepFor(absl::Milliseconds(50));  // give a wrong delivery a chance to show
  EXPECT_EQ(cancelled.Events().size(), 1u);
  w.reset();
  f.reset();  // destroying a live watch stops it too
  MustPut(kv, "c/3", "x");
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(fence.Events().size(), 2u);
}

TEST_P(KvConformanceTest, WatchHandlerMayCallTheStore) {
  Kv& kv = MakeKv();
  std::atomic<int> seen{0};
  absl::Mutex mu;
  std::vector<absl::Status> errors;
  auto w = kv.StartWatch(WatchRequest::Prefix("in/"), [&](const WatchResponse& r) {
    for (const auto& e : r.events) {
      auto got = Get(kv, e.kv.key);
      auto put = kv.Put({.key = "out/" + e.kv.key.substr(3), .value = e.kv.value});
      absl::MutexLock lock(&mu);
      if (!got.ok()) errors.push_back(got.status());
      if (!put.ok()) errors.push_back(put.status());
      seen++;
    }
  });
  ASSERT_TRUE(w.ok()) << w.status();
  for (int i = 0; i < 5; ++i) MustPut(kv, "in/" + std::to_string(i), "v");
  EXPECT_TRUE(Eventually([&] { return seen.load() == 5; }));
  (*w)->Cancel();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(MustRange(kv, RangeRequest::Prefix("out/")).count, 5);
}

TEST_P(KvConformanceTest, CompactedRangeAndWatch) {
  Kv& kv = MakeKv();
  Revision r1 = MustPut(kv, "cp", "1");
  MustPut(kv, "cp", "2");
  Revision r3 = MustPut(kv, "cp", "3");
  Revision r4 = MustPut(kv, "cp", "4");
  absl::Status st = kv.Compact(r3);
  ASSERT_TRUE(st.ok()) << st;
  RangeRequest old = RangeRequest::Key("cp");
  old.revision = r1;
  auto r = kv.Range(old);
  EXPECT_TRUE(IsCompacted(r.status())) << r.status();
  old.revision = r3;
  r = kv.Range(old);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].value, "3");

  // The error comes either from StartWatch itself or as the watch's one final response.
  Collector c;
  auto w = kv.StartWatch({.key = "cp", .start_revision = r1}, c.Handler());
  if (w.ok()) {
    absl::Status final = c.WaitFinal();
    EXPECT_TRUE(IsCompacted(final)) << final;
    EXPECT_THAT(c.Events(), IsEmpty());
    EXPECT_EQ(c.violations(), 0);
  } else {
    EXPECT_TRUE(IsCompacted(w.status())) << w.status();
  }

  // Watching from after the compaction point works.
  Collector ok;
  auto w2 = MustWatch(kv, {.key = "cp", .start_revision = r4}, ok);
  auto events = ok.WaitEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.value, "4");
}

TEST_P(KvConformanceTest, CompactErrors) {
  Kv& kv = MakeKv();
  MustPut(kv, "ce", "1");
  Revision rev = MustPut(kv, "ce", "2");
  absl::Status future = kv.Compact(rev + 100);
  EXPECT_EQ(Code(future), absl::StatusCode::kOutOfRange) << future;
  EXPECT_FALSE(IsCompacted(future)) << future;
  ASSERT_TRUE(kv.Compact(rev).ok());
  absl::Status again = kv.Compact(rev);
  EXPECT_TRUE(IsCompacted(again)) << again;
  // The current value is untouched.
  EXPECT_THAT(MustGet(kv, "ce"), Optional(KvIs("ce", "2")));
}

TEST_P(KvConformanceTest, StatusReportsRevisionCompactionAndSize) {
  Kv& kv = MakeKv();
  Revision rev = MustPut(kv, "st", std::string(4096, 's'));
  auto st = kv.Status();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->revision, rev);
  EXPECT_GT(st->db_size, 0);
  EXPECT_GT(st->db_size_in_use, 0);
  EXPECT_LE(st->db_size_in_use, st->db_size);
  ASSERT_TRUE(kv.Compact(rev).ok());
  st = kv.Status();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->compact_revision, rev);
  EXPECT_EQ(st->revision, rev);  // compaction is not a write
}

}  // namespace hg::store::testing
