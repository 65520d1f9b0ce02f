#include "store/kv.h"

#include <type_traits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace hg::store {

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  // Every byte was 0xff (or the prefix was empty): the range runs to the end of the keyspace.
  return std::string(1, '\0');
}

// Vectors of ops move them when they grow, instead of deep-copying nested txns.
static_assert(std::is_nothrow_move_constructible_v<NestedTxn>);
static_assert(std::is_nothrow_move_constructible_v<NestedTxnResponse>);

NestedTxn::NestedTxn(TxnRequest txn) : txn_(std::make_unique<TxnRequest>(std::move(txn))) {}

NestedTxnResponse::NestedTxnResponse(TxnResponse response)
    : response_(std::make_unique<TxnResponse>(std::move(response))) {}

NestedTxn Nested(TxnRequest txn) { return NestedTxn(std::move(txn)); }

const TxnResponse* NestedResponse(const TxnOpResponse& r) {
  const auto* nested = std::get_if<NestedTxnResponse>(&r);
  return nested == nullptr ? nullptr : &nested->response();
}

absl::StatusOr<std::optional<KeyValue>> Get(Kv& kv, const std::string& key) {
  auto resp = kv.Range(RangeRequest::Key(key));
  if (!resp.ok()) return resp.status();
  if (resp->kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(resp->kvs.front()));
}

namespace {
constexpr char kCompactedMarker[] = "revision compacted";
}

absl::Status CompactedError(Revision requested, Revision compact_revision) {
  return absl::OutOfRangeError(absl::StrCat(kCompactedMarker, ": requested ", requested,
                                            ", oldest available ", compact_revision + 1));
}

bool IsCompacted(const absl::Status& status) {
  return status.code() == absl::StatusCode::kOutOfRange &&
         absl::StrContains(status.message(), kCompactedMarker);
}

}  // namespace hg::store
