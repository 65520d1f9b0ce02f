#include "auth/audit.h"

#include <algorithm>
#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/strings.h"
#include "model/json.h"

namespace hg::auth {
namespace {

// Keys sort newest first: 15 digits of (kMaxMillis - unix ms), then a random suffix so two
// masters writing in the same millisecond do not collide.
constexpr int64_t kMaxMillis = 999'999'999'999'999;

const log::Logger& Log() {
  static const log::Logger* logger = new log::Logger("audit");
  return *logger;
}

}  // namespace

AuditLog::AuditLog(store::Kv& kv, const Clock& clock, model::Keys keys, Options options)
    : kv_(kv), clock_(clock), keys_(std::move(keys)), options_(options) {
  writer_ = std::thread([this] { WriterLoop(); });
}

AuditLog::~AuditLog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  writer_.join();
}

void AuditLog::WriterLoop() {
  absl::Duration backoff = absl::Milliseconds(100);
  for (;;) {
    std::vector<Queued> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuditLog* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stop_ || !self->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && batch.size() < 64) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      writing_ = true;
    }
    const absl::Status st = WriteBatch(batch);
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (st.ok()) {
      backoff = absl::Milliseconds(100);
      continue;
    }
    if (stop_) {
      Log().Error("audit entries not stored at shutdown",
                  {{"entries", static_cast<int64_t>(batch.size() + queue_.size())},
                   {"error", std::string(st.message())}});
      return;
    }
    // Back to the front, in order; retried after a backoff (or at once when stopping).
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
    mu_.AwaitWithTimeout(absl::Condition(&stop_), backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

absl::Status AuditLog::WriteBatch(std::vector<Queued>& batch) {
  store::TxnRequest txn;
  for (const Queued& q : batch) {
    txn.success.emplace_back(std::in_place_type<store::PutRequest>,
                             store::PutRequest{.key = q.key, .value = q.value});
  }
  auto r = kv_.Txn(txn);
  if (!r.ok()) {
    Log().Warn("audit entries not stored yet; retrying",
               {{"entries", static_cast<int64_t>(batch.size())},
                {"error", std::string(r.status().message())}});
    return r.status();
  }
  (void)PruneIfDue();  // a failed prune is retried at the next due time
  return absl::OkStatus();
}

bool AuditLog::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](AuditLog* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                                    return self->queue_.empty() && !self->writing_;
                                  },
                                  this),
                              timeout);
}

std::string AuditLog::KeyFor(absl::Time t) const {
  const int64_t ms = std::max<int64_t>(0, absl::ToUnixMillis(t));
  return absl::StrFormat("%s%015d", keys_.AuditPrefix(), kMaxMillis - ms);
}

absl::Status AuditLog::Record(AuditEntry entry) {
  entry.time = clock_.Now();
  Log().Info("audit", {{"actor", entry.actor},
                       {"role", entry.role},
                       {"method", entry.method},
                       {"route", entry.route},
                       {"target", entry.target},
                       {"status", entry.status},
                       {"remote", entry.remote}});
  // Same millisecond: this log's newer entries first (an inverted sequence), and a random part
  // so that two masters never write the same key.
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= options_.max_queued) {
    Log().Error("audit queue full (the store has been unreachable for long): entry only logged",
                {{"queued", static_cast<int64_t>(queue_.size())}});
    return absl::ResourceExhaustedError("audit queue full");
  }
  const uint32_t sequence = 0xffffffffu - static_cast<uint32_t>(++written_);
  const uint16_t random = absl::Uniform<uint16_t>(gen_);
  queue_.push_back({absl::StrFormat("%s-%08x%04x", KeyFor(entry.time), sequence, random),
                    EncodeAuditEntry(entry)});
  return absl::OkStatus();
}

absl::Status AuditLog::PruneIfDue() {
  {
    absl::MutexLock lock(&mu_);
    const SteadyTime now = clock_.SteadyNow();
    if (last_prune_ && now - *last_prune_ < absl::ToChronoNanoseconds(options_.prune_interval)) {
      return absl::OkStatus();
    }
    last_prune_ = now;
  }
  const std::string prefix = keys_.AuditPrefix();
  const std::string end = store::PrefixEnd(prefix);
  // Too old: every key from the retention's cutoff on (older = larger keys).
  auto aged = kv_.Delete({.key = KeyFor(clock_.Now() - options_.retention), .range_end = end});
  if (!aged.ok()) return aged.status();
  store::RangeRequest count = store::RangeRequest::Prefix(prefix);
  count.count_only = true;
  auto n = kv_.Range(count);
  if (!n.ok()) return n.status();
  const int64_t excess = n->count - options_.max_entries;
  if (excess <= 0) return absl::OkStatus();
  // Too many: the oldest `excess` (at most 1,000 per prune) are the largest keys.
  store::RangeRequest oldest = store::RangeRequest::Prefix(prefix);
  oldest.sort_order = store::SortOrder::kDescend;
  oldest.keys_only = true;
  oldest.limit = std::min<int64_t>(excess, 1000);
  auto keys = kv_.Range(oldest);
  if (!keys.ok()) return keys.status();
  if (keys->kvs.empty()) return absl::OkStatus();
  auto cut = kv_.Delete({.key = keys->kvs.back().key, .range_end = end});
  return cut.ok() ? absl::OkStatus() : cut.status();
}

absl::StatusOr<AuditLog::Page> AuditLog::List(int limit, std::string_view cursor) {
  if (limit < 1 || limit > 1000) {
    return absl::InvalidArgumentError("limit: must be between 1 and 1000");
  }
  (void)Flush(absl::Seconds(2));
  const std::string prefix = keys_.AuditPrefix();
  store::RangeRequest req = store::RangeRequest::Prefix(prefix);
  if (!cursor.empty()) {
    if (!IsAuditCursor(cursor)) {
      return absl::InvalidArgumentError("cursor: not a cursor of this list");
    }
    req.key = absl::StrCat(prefix, Av(cursor), std::string(1, '\0'));
  }
  req.limit = limit;
  auto got = kv_.Range(req);
  if (!got.ok()) return got.status();
  Page page;
  for (const auto& kv : got->kvs) {
    auto e = DecodeAuditEntry(kv.value);
    if (e.ok()) page.entries.push_back(*std::move(e));
  }
  if (got->more && !got->kvs.empty()) {
    page.next_cursor = got->kvs.back().key.substr(prefix.size());
  }
  return page;
}

}  // namespace hg::auth
