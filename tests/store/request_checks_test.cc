// store/request_checks.h: the request sizes etcd checks against --max-request-bytes. The
// expected numbers are etcd 3.4.23's own: for each request shape, the largest value etcd still
// accepted under its default 1.5 MiB limit was found by bisection (over etcd's JSON gateway), and
// RequestBytes must put that request at the limit + 1 (it counts one header byte more than an
// etcd whose request ids take nine bytes, request_checks.h). The op-count and duplicate-key rules
// run against real etcd in the Kv conformance suite.
#include "store/request_checks.h"

#include <string>

#include "gtest/gtest.h"

namespace hg::store {
namespace {

constexpr int64_t kLimit = 3 * 1024 * 512;

TEST(RequestBytesTest, MatchesEtcdForAPut) {
  // etcd accepted a value of 1572840 bytes under key "k", refused 1572841.
  PutRequest put{.key = "k", .value = std::string(1572840, 'x')};
  EXPECT_EQ(RequestBytes(put), kLimit + 1);
  put.value.pop_back();
  EXPECT_EQ(RequestBytes(put), kLimit);
  EXPECT_TRUE(CheckPut(put, {}).ok());
  put.value += "xx";
  EXPECT_EQ(CheckPut(put, {}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequestBytesTest, MatchesEtcdForADelete) {
  // etcd accepted a 1572843-byte key, refused 1572844.
  EXPECT_EQ(RequestBytes(DeleteRequest::Key(std::string(1572843, 'x'))), kLimit + 1);
}

TEST(RequestBytesTest, MatchesEtcdForTxnsAndNestedTxns) {
  // One put in a txn: etcd accepted 1572832 bytes of value; nested one level: 1572824.
  std::string value(1572832, 'x');
  TxnRequest flat{.success = {PutRequest{.key = "k", .value = value}}};
  EXPECT_EQ(RequestBytes(flat), kLimit + 1);
  value.resize(1572824);
  TxnRequest nested{.success = {Nested({.success = {PutRequest{.key = "k", .value = value}}})}};
  EXPECT_EQ(RequestBytes(nested), kLimit + 1);
}

TEST(RequestBytesTest, MatchesEtcdForEveryFieldKind) {
  // Compares of every target (a zero lease and create revision still sent: oneof members),
  // a range_end, a Range with options, a Put with prev_kv, a ranged Delete, a nested txn on
  // the failure branch. etcd accepted a value of 1572741 bytes, refused 1572742.
  using R = Compare::Result;
  Compare ranged = Compare::Version("k", R::kGreater, 5);
  ranged.range_end = "z";
  TxnRequest t{
      .compare = {Compare::Value("k", R::kEqual, "v"), ranged,
                  Compare::ModRevision("m", R::kLess, 300), Compare::Lease("l", R::kNotEqual, 0)},
      .success = {RangeRequest{.key = "a",
                               .range_end = "b",
                               .limit = 10,
                               .keys_only = true,
                               .sort_order = SortOrder::kDescend,
                               .sort_target = SortTarget::kModRevision},
                  PutRequest{.key = "p", .value = std::string(1572741, 'x'), .prev_kv = true},
                  DeleteRequest{.key = "d", .range_end = "e", .prev_kv = true}},
      .failure = {Nested({.compare = {Compare::CreateRevision("q", R::kEqual, 0)}})},
  };
  EXPECT_EQ(RequestBytes(t), kLimit + 1);
}

TEST(CheckTxnTest, ReadOnlyTxnsSkipTheSizeCheck) {
  TxnRequest reads{.success = {RangeRequest::Key(std::string(kLimit, 'k'))}};
  EXPECT_FALSE(TxnMayWrite(reads));
  EXPECT_TRUE(CheckTxn(reads, {}).ok());
  TxnRequest nested{
      .success = {Nested({.success = {RangeRequest::Key(std::string(kLimit, 'k'))}})}};
  EXPECT_TRUE(TxnMayWrite(nested));  // etcd: a nested txn is not a read
  EXPECT_EQ(CheckTxn(nested, {}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CheckTxnTest, LimitsAreConfigurable) {
  RequestLimits limits{.max_txn_ops = 3};
  TxnRequest three{
      .success = {PutRequest{.key = "a"}, PutRequest{.key = "b"}, PutRequest{.key = "c"}}};
  EXPECT_TRUE(CheckTxn(three, limits).ok());
  three.failure = {PutRequest{.key = "a"}, PutRequest{.key = "b"}, PutRequest{.key = "c"},
                   PutRequest{.key = "d"}};
  EXPECT_EQ(CheckTxn(three, limits).message(), "too many operations in txn request");
  // 2 ops + a nested txn of 1 = 3 - 2.
  TxnRequest nested{
      .success = {PutRequest{.key = "a"}, Nested({.success = {PutRequest{.key = "b"}}})}};
  EXPECT_TRUE(CheckTxn(nested, limits).ok());
  std::get<NestedTxn>(nested.success[1]).txn().success.push_back(PutRequest{.key = "c"});
  EXPECT_EQ(CheckTxn(nested, limits).message(), "too many operations in txn request");
}

}  // namespace
}  // namespace hg::store
