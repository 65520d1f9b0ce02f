#include "runs/group_commit.h"

#include <algorithm>
#include <utility>
#include <variant>

namespace hg::runs {
namespace {

// A written key or key range [key, end) ("" end = the single key).
struct Span {
  std::string key;
  std::string end;
};

bool Contains(const Span& range, const std::string& k) {
  if (range.end.empty()) return k == range.key;
  if (range.end == std::string(1, '\0')) return k >= range.key;
  return k >= range.key && k < range.end;
}

bool Overlap(const Span& a, const Span& b) {
  if (a.end.empty()) return Contains(b, a.key);
  if (b.end.empty()) return Contains(a, b.key);
  // Two ranges: conservatively compare their starts against each other.
  return Contains(a, b.key) || Contains(b, a.key);
}

void CollectWrites(const std::vector<store::TxnOp>& ops, std::vector<Span>* out);

void CollectWrites(const store::TxnRequest& txn, std::vector<Span>* out) {
  CollectWrites(txn.success, out);
  CollectWrites(txn.failure, out);
}

void CollectWrites(const std::vector<store::TxnOp>& ops, std::vector<Span>* out) {
  for (const store::TxnOp& op : ops) {
    if (const auto* p = std::get_if<store::PutRequest>(&op)) {
      out->push_back({p->key, ""});
    } else if (const auto* d = std::get_if<store::DeleteRequest>(&op)) {
      out->push_back({d->key, d->range_end});
    } else if (const auto* n = std::get_if<store::NestedTxn>(&op)) {
      CollectWrites(n->txn(), out);
    }
  }
}

int64_t OpBytes(const store::TxnOp& op) {
  constexpr int64_t kOverhead = 16;
  if (const auto* r = std::get_if<store::RangeRequest>(&op)) {
    return kOverhead + static_cast<int64_t>(r->key.size() + r->range_end.size());
  }
  if (const auto* p = std::get_if<store::PutRequest>(&op)) {
    return kOverhead + static_cast<int64_t>(p->key.size() + p->value.size());
  }
  if (const auto* d = std::get_if<store::DeleteRequest>(&op)) {
    return kOverhead + static_cast<int64_t>(d->key.size() + d->range_end.size());
  }
  if (const auto* n = std::get_if<store::NestedTxn>(&op)) {
    return kOverhead + GroupCommit::Bytes(n->txn());
  }
  return kOverhead;
}

}  // namespace

struct GroupCommit::Waiter {
  store::TxnRequest change;
  int ops = 0;
  int64_t bytes = 0;
  std::vector<Span> writes;
  Result result;
  bool done = false;
};

GroupCommit::GroupCommit(store::Kv& kv, Options options) : kv_(kv), options_(std::move(options)) {}

int GroupCommit::OpCount(const store::TxnRequest& txn) {
  int n = static_cast<int>(std::max({txn.compare.size(), txn.success.size(), txn.failure.size()}));
  int nested = 0;
  for (const auto* branch : {&txn.success, &txn.failure}) {
    for (const store::TxnOp& op : *branch) {
      if (const auto* t = std::get_if<store::NestedTxn>(&op))
        nested = std::max(nested, OpCount(t->txn()));
    }
  }
  return n + nested;
}

int64_t GroupCommit::Bytes(const store::TxnRequest& txn) {
  int64_t n = 0;
  for (const store::Compare& c : txn.compare) {
    n += 16 + static_cast<int64_t>(c.key.size() + c.range_end.size() + c.value.size());
  }
  for (const store::TxnOp& op : txn.success) n += OpBytes(op);
  for (const store::TxnOp& op : txn.failure) n += OpBytes(op);
  return n;
}

GroupCommit::Result GroupCommit::Commit(store::TxnRequest change) {
  std::vector<store::TxnRequest> one;
  one.push_back(std::move(change));
  return std::move(CommitAll(std::move(one)).front());
}

std::vector<GroupCommit::Result> GroupCommit::CommitAll(std::vector<store::TxnRequest> changes) {
  std::vector<Waiter> mine(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    Waiter& w = mine[i];
    w.change = std::move(changes[i]);
    w.ops = OpCount(w.change);
    w.bytes = Bytes(w.change);
    CollectWrites(w.change, &w.writes);
  }
  absl::MutexLock lock(&mu_);
  for (Waiter& w : mine) queue_.push_back(&w);
  auto all_done = [&] {
    return std::all_of(mine.begin(), mine.end(), [](const Waiter& w) { return w.done; });
  };
  while (!all_done()) {
    if (committing_) {
      auto can_go = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !committing_ || all_done(); };
      mu_.Await(absl::Condition(&can_go));
      continue;
    }
    committing_ = true;
    std::vector<Waiter*> batch = TakeBatchLocked();
    mu_.Unlock();
    Execute(batch);
    mu_.Lock();
    for (Waiter* w : batch) w->done = true;
    committing_ = false;
  }
  std::vector<Result> out;
  out.reserve(mine.size());
  for (Waiter& w : mine) out.push_back(std::move(w.result));
  return out;
}

std::vector<GroupCommit::Waiter*> GroupCommit::TakeBatchLocked() {
  std::vector<Waiter*> batch;
  std::vector<const Span*> written;
  int max_item_ops = 0;
  int64_t bytes = 0;
  const int guard = static_cast<int>(options_.guard.size());
  for (auto it = queue_.begin(); it != queue_.end();) {
    Waiter* w = *it;
    if (!batch.empty()) {
      const int n = static_cast<int>(batch.size()) + 1;
      const int item_ops = std::max(max_item_ops, w->ops);
      if (std::max(n, guard) + item_ops > options_.max_ops) break;
      if (bytes + w->bytes > options_.max_bytes) break;
      bool conflict = false;
      for (const Span& s : w->writes) {
        for (const Span* t : written) {
          if (Overlap(s, *t)) {
            conflict = true;
            break;
          }
        }
        if (conflict) break;
      }
      if (conflict) {  // waits for the next transaction; later changes may still go now
        ++it;
        continue;
      }
    }
    batch.push_back(w);
    max_item_ops = std::max(max_item_ops, w->ops);
    bytes += w->bytes;
    for (const Span& s : w->writes) written.push_back(&s);
    it = queue_.erase(it);
  }
  return batch;
}

void GroupCommit::Execute(const std::vector<Waiter*>& batch) {
  store::TxnRequest outer;
  outer.compare = options_.guard;
  outer.success.reserve(batch.size());
  for (Waiter* w : batch)
    outer.success.emplace_back(std::in_place_type<store::NestedTxn>, w->change);
  absl::StatusOr<store::TxnResponse> resp = kv_.Txn(outer);
  if (!resp.ok() && absl::IsInvalidArgument(resp.status()) && batch.size() > 1) {
    // The store refused the batch as a whole (a limit we estimated wrong): one by one, so only
    // the offending change fails.
    for (Waiter* w : batch) Execute({w});
    return;
  }
  transactions_.fetch_add(1);
  changes_.fetch_add(static_cast<int64_t>(batch.size()));
  for (size_t i = 0; i < batch.size(); ++i) {
    Result& r = batch[i]->result;
    if (!resp.ok()) {
      r.status = resp.status();
      continue;
    }
    r.revision = resp->revision;
    if (!resp->succeeded) {
      r.guard_failed = true;
      continue;
    }
    const store::TxnResponse* nested =
        i < resp->responses.size() ? store::NestedResponse(resp->responses[i]) : nullptr;
    if (nested == nullptr) {
      r.status = absl::InternalError("store answered a transaction without its nested response");
      continue;
    }
    r.succeeded = nested->succeeded;
    r.responses = nested->responses;
  }
}

}  // namespace hg::runs
