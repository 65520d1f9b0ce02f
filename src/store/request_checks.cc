#include "store/request_checks.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace hg::store {
namespace {

constexpr char kTooManyOps[] = "too many operations in txn request";
constexpr char kDuplicateKey[] = "duplicate key given in txn request";
constexpr char kTooLarge[] = "request is too large";

// ---- protobuf sizes (proto3: zero scalars and empty bytes are not sent, oneof members are) ----

int64_t VarintBytes(uint64_t v) {
  int64_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

int64_t TagBytes(int field) { return VarintBytes(static_cast<uint64_t>(field) << 3); }

// A length-delimited field that is always sent (a message, a oneof member).
int64_t Delimited(int field, int64_t len) {
  return TagBytes(field) + VarintBytes(static_cast<uint64_t>(len)) + len;
}
int64_t BytesField(int field, const std::string& s) {
  return s.empty() ? 0 : Delimited(field, static_cast<int64_t>(s.size()));
}
// int64 and enums: negative numbers take ten bytes, as the uint64 they are cast to.
int64_t IntField(int field, int64_t v) {
  return v == 0 ? 0 : TagBytes(field) + VarintBytes(static_cast<uint64_t>(v));
}
int64_t BoolField(int field, bool b) { return b ? TagBytes(field) + 1 : 0; }

// EtcdKv sends an empty key with a range_end as "\0" (etcd's "from the first key").
int64_t KeyField(const std::string& key, const std::string& range_end) {
  if (key.empty() && !range_end.empty()) return Delimited(1, 1);
  return BytesField(1, key);
}

int64_t Size(const RangeRequest& r) {
  int64_t sort_target = 0;  // etcd's SortTarget numbers: KEY 0, CREATE 2, MOD 3
  if (r.sort_target == SortTarget::kCreateRevision) sort_target = 2;
  if (r.sort_target == SortTarget::kModRevision) sort_target = 3;
  return KeyField(r.key, r.range_end) + BytesField(2, r.range_end) + IntField(3, r.limit) +
         IntField(4, r.revision) + IntField(5, static_cast<int64_t>(r.sort_order)) +
         IntField(6, sort_target) + BoolField(8, r.keys_only) + BoolField(9, r.count_only);
}

int64_t Size(const PutRequest& r) {
  return BytesField(1, r.key) + BytesField(2, r.value) + IntField(3, r.lease) +
         BoolField(4, r.prev_kv);
}

int64_t Size(const DeleteRequest& r) {
  return KeyField(r.key, r.range_end) + BytesField(2, r.range_end) + BoolField(3, r.prev_kv);
}

int64_t Size(const Compare& c) {
  // Our enums list etcd's values in etcd's order.
  int64_t n = IntField(1, static_cast<int64_t>(c.result)) +
              IntField(2, static_cast<int64_t>(c.target)) + KeyField(c.key, c.range_end) +
              BytesField(64, c.range_end);
  switch (c.target) {
    case Compare::Target::kVersion:
      return n + TagBytes(4) + VarintBytes(static_cast<uint64_t>(c.number));
    case Compare::Target::kCreateRevision:
      return n + TagBytes(5) + VarintBytes(static_cast<uint64_t>(c.number));
    case Compare::Target::kModRevision:
      return n + TagBytes(6) + VarintBytes(static_cast<uint64_t>(c.number));
    case Compare::Target::kValue:
      return n + Delimited(7, static_cast<int64_t>(c.value.size()));
    case Compare::Target::kLease:
      return n + TagBytes(8) + VarintBytes(static_cast<uint64_t>(c.number));
  }
  return n;
}

int64_t Size(const TxnRequest& t);

// A RequestOp: its oneof member (range 1, put 2, delete_range 3, txn 4).
int64_t Size(const TxnOp& op) {
  if (const auto* r = std::get_if<RangeRequest>(&op)) return Delimited(1, Size(*r));
  if (const auto* p = std::get_if<PutRequest>(&op)) return Delimited(2, Size(*p));
  if (const auto* d = std::get_if<DeleteRequest>(&op)) return Delimited(3, Size(*d));
  return Delimited(4, Size(std::get<NestedTxn>(op).txn()));
}

int64_t Size(const TxnRequest& t) {
  int64_t n = 0;
  for (const Compare& c : t.compare) n += Delimited(1, Size(c));
  for (const TxnOp& op : t.success) n += Delimited(2, Size(op));
  for (const TxnOp& op : t.failure) n += Delimited(3, Size(op));
  return n;
}

// etcd's InternalRaftRequest around a request of `body` bytes: the header (field 100 holding the
// request id, whose top 16 bits come from the member id: 13 bytes, or 14 when the id needs ten
// varint bytes) and the request's own field (put 4, delete_range 5, txn 6). We count 14, so a
// request etcd refuses is always refused here (and one etcd accepts is refused only when it is
// within a byte of the limit).
int64_t RaftEntryBytes(int64_t body) { return 14 + Delimited(6, body); }

absl::Status CheckSize(int64_t bytes, const RequestLimits& limits) {
  if (bytes > limits.max_request_bytes) return absl::InvalidArgumentError(kTooLarge);
  return absl::OkStatus();
}

// ---- op counts and keys (etcd's checkTxnRequest) ----

absl::Status CheckKey(const std::string& key, const std::string& range_end) {
  if (key.empty() && range_end.empty()) return absl::InvalidArgumentError("empty key");
  return absl::OkStatus();
}

absl::Status CheckOps(const TxnRequest& t, int max_ops) {
  const size_t opc = std::max({t.compare.size(), t.success.size(), t.failure.size()});
  if (opc > static_cast<size_t>(std::max(max_ops, 0))) {
    return absl::InvalidArgumentError(kTooManyOps);
  }
  for (const Compare& c : t.compare) {
    if (absl::Status st = CheckKey(c.key, c.range_end); !st.ok()) return st;
  }
  for (const auto* branch : {&t.success, &t.failure}) {
    for (const TxnOp& op : *branch) {
      absl::Status st;
      if (const auto* r = std::get_if<RangeRequest>(&op)) {
        st = CheckKey(r->key, r->range_end);
      } else if (const auto* p = std::get_if<PutRequest>(&op)) {
        if (p->key.empty()) st = absl::InvalidArgumentError("empty key");
      } else if (const auto* d = std::get_if<DeleteRequest>(&op)) {
        st = CheckKey(d->key, d->range_end);
      } else {
        st = CheckOps(std::get<NestedTxn>(op).txn(), max_ops - static_cast<int>(opc));
      }
      if (!st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

// ---- duplicate keys (etcd's checkIntervals) ----

// A deleted key or range as etcd's interval check sees it: one key when `end` is empty, else
// [begin, end) compared as bytes, so an `end` of "\0" (every key >= begin) matches nothing.
struct Deleted {
  std::string begin;
  std::string end;
  bool Hits(const std::string& k) const { return end.empty() ? k == begin : k >= begin && k < end; }
};

struct Writes {
  std::set<std::string> puts;
  std::vector<Deleted> deletes;
  bool Deletes(const std::string& k) const {
    return std::any_of(deletes.begin(), deletes.end(), [&](const Deleted& d) { return d.Hits(k); });
  }
};

// The puts and deletes of one branch, nested txns included, or the first conflict. Deletes of
// the branch itself are known first; those of a nested txn only count for what comes after it.
absl::Status CheckBranchKeys(const std::vector<TxnOp>& ops, Writes* out) {
  Writes& w = *out;
  for (const TxnOp& op : ops) {
    if (const auto* d = std::get_if<DeleteRequest>(&op))
      w.deletes.push_back({d->key, d->range_end});
  }
  for (const TxnOp& op : ops) {
    const auto* nested = std::get_if<NestedTxn>(&op);
    if (nested == nullptr) continue;
    Writes then_w, else_w;
    if (absl::Status st = CheckBranchKeys(nested->txn().success, &then_w); !st.ok()) return st;
    if (absl::Status st = CheckBranchKeys(nested->txn().failure, &else_w); !st.ok()) return st;
    for (const std::string& k : then_w.puts) {
      if (w.puts.contains(k) || w.Deletes(k)) return absl::InvalidArgumentError(kDuplicateKey);
      w.puts.insert(k);
    }
    for (const std::string& k : else_w.puts) {
      // The same nested txn's success branch may put it too: only one of them runs.
      if ((w.puts.contains(k) && !then_w.puts.contains(k)) || w.Deletes(k)) {
        return absl::InvalidArgumentError(kDuplicateKey);
      }
      w.puts.insert(k);
    }
    for (auto* nested_w : {&then_w, &else_w}) {
      w.deletes.insert(w.deletes.end(), nested_w->deletes.begin(), nested_w->deletes.end());
    }
  }
  for (const TxnOp& op : ops) {
    const auto* p = std::get_if<PutRequest>(&op);
    if (p == nullptr) continue;
    if (w.puts.contains(p->key) || w.Deletes(p->key)) {
      return absl::InvalidArgumentError(kDuplicateKey);
    }
    w.puts.insert(p->key);
  }
  return absl::OkStatus();
}

}  // namespace

int64_t RequestBytes(const PutRequest& req) { return RaftEntryBytes(Size(req)); }
int64_t RequestBytes(const DeleteRequest& req) { return RaftEntryBytes(Size(req)); }
int64_t RequestBytes(const TxnRequest& req) { return RaftEntryBytes(Size(req)); }

bool TxnMayWrite(const TxnRequest& req) {
  auto is_range = [](const TxnOp& op) { return std::holds_alternative<RangeRequest>(op); };
  return !std::all_of(req.success.begin(), req.success.end(), is_range) ||
         !std::all_of(req.failure.begin(), req.failure.end(), is_range);
}

absl::Status CheckTxn(const TxnRequest& req, const RequestLimits& limits) {
  if (absl::Status st = CheckOps(req, limits.max_txn_ops); !st.ok()) return st;
  for (const auto* branch : {&req.success, &req.failure}) {
    Writes w;
    if (absl::Status st = CheckBranchKeys(*branch, &w); !st.ok()) return st;
  }
  if (!TxnMayWrite(req)) return absl::OkStatus();
  return CheckSize(RequestBytes(req), limits);
}

absl::Status CheckPut(const PutRequest& req, const RequestLimits& limits) {
  if (req.key.empty()) return absl::InvalidArgumentError("empty key");
  return CheckSize(RequestBytes(req), limits);
}

absl::Status CheckDelete(const DeleteRequest& req, const RequestLimits& limits) {
  if (absl::Status st = CheckKey(req.key, req.range_end); !st.ok()) return st;
  return CheckSize(RequestBytes(req), limits);
}

}  // namespace hg::store
