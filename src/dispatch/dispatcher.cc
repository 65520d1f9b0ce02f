#include "dispatch/dispatcher.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "model/execution.h"
#include "model/job.h"
#include "model/run_log.h"
#include "runs/transitions.h"
#include "telemetry/tracer.h"

namespace hg::dispatch {
namespace {

using hourglass::v1::RunRequest;
using hourglass::v1::RunResponse;

// Refusals worth another try while the instant may still start.
bool Passing(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted ||
         code == absl::StatusCode::kDeadlineExceeded || code == absl::StatusCode::kAborted ||
         code == absl::StatusCode::kInternal;
}

std::optional<store::KeyValue> First(const store::TxnOpResponse& r) {
  const auto* range = std::get_if<store::RangeResponse>(&r);
  if (range == nullptr || range->kvs.empty()) return std::nullopt;
  return range->kvs.front();
}

// Reads `ranges_per` keys for each of `n` items in as few read transactions as etcd allows.
// `ops(i)` gives item i's ranges; returns the responses flattened in order.
absl::StatusOr<std::vector<store::TxnOpResponse>> ReadMany(
    store::Kv& kv, size_t n, size_t ranges_per,
    const std::function<std::vector<store::TxnOp>(size_t)>& ops) {
  const size_t per_txn = std::max<size_t>(1, 128 / ranges_per);
  std::vector<store::TxnOpResponse> out;
  for (size_t begin = 0; begin < n; begin += per_txn) {
    store::TxnRequest read;
    for (size_t i = begin; i < std::min(n, begin + per_txn); ++i) {
      for (store::TxnOp& op : ops(i)) read.success.push_back(std::move(op));
    }
    HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv.Txn(read));
    for (auto& r : resp.responses) out.push_back(std::move(r));
  }
  if (out.size() != n * ranges_per) return absl::InternalError("short read response");
  return out;
}

}  // namespace

Dispatcher::Dispatcher(store::Kv& kv, Clock& clock, model::Keys keys, WorkerClient& client,
                       Options options, DispatcherProbe probe)
    : kv_(kv),
      clock_(clock),
      keys_(std::move(keys)),
      client_(client),
      options_(options),
      probe_(std::move(probe)) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
}

void Dispatcher::EndTerm() {
  absl::MutexLock lock(&mu_);
  if (!term_lost_) log_.Warn("term guard failed: leadership lost; stopping dispatch");
  term_lost_ = true;
  stop_ = true;
}

std::vector<WorkerInfo> Dispatcher::Workers() const {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerInfo> out;
  for (const auto& [id, w] : workers_) out.push_back(w);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Watch handlers: state only.

void Dispatcher::OnWorkers(const coord::PrefixWatch::State& state) {
  absl::MutexLock lock(&mu_);
  workers_.clear();
  live_leases_.clear();
  for (const auto& [key, kv] : state) {
    const std::string id = key.substr(keys_.WorkersPrefix().size());
    auto entry = model::DecodeWorkerEntry(kv.value, id);
    if (!entry.ok()) {
      log_.Warn("unreadable worker entry", {{"key", key}});
      continue;
    }
    entry->lease = kv.lease;
    live_leases_.insert(kv.lease);
    const std::string worker_id = entry->id;
    workers_[worker_id] = *std::move(entry);
  }
  if (!workers_.empty()) {
    // Entries waiting for any worker (or a slot) look again now.
    for (Queued& q : parked_) queue_.push_back(std::move(q));
    parked_.clear();
    UnblockLocked(nullptr, 0);
  }
  if (probe_.workers) probe_.workers(workers_.size());
  FindSuspectsLocked();
  ++wake_;
}

void Dispatcher::OnPending(const std::vector<coord::PrefixWatch::Change>& changes) {
  absl::MutexLock lock(&mu_);
  for (const auto& c : changes) {
    if (!c.after) continue;
    auto id = keys_.IdFromKey(c.key, keys_.PendingPrefix());
    if (!id) continue;
    auto pending = runs::DecodePending(c.after->value);
    if (!pending.ok()) {
      log_.Error("unreadable pending entry", {{"key", c.key}});
      continue;
    }
    if (!queued_.insert(id->str()).second) continue;
    queue_.push_back({.id = *id,
                      .pending = *pending,
                      .pending_revision = c.after->mod_revision,
                      .not_before = absl::InfinitePast()});
  }
  ++wake_;
}

void Dispatcher::OnInflight(const std::vector<coord::PrefixWatch::Change>& changes) {
  absl::MutexLock lock(&mu_);
  absl::flat_hash_map<std::string, int> freed;  // worker id -> slots freed
  for (const auto& c : changes) {
    auto id = keys_.IdFromKey(c.key, keys_.InflightPrefix());
    if (!id) continue;
    if (auto it = inflight_.find(id->str()); it != inflight_.end()) {
      --load_[it->second.worker_id];
      if (!c.after) ++freed[it->second.worker_id];
      inflight_.erase(it);
    }
    if (!c.after) continue;
    auto entry = runs::DecodeInflight(c.after->value);
    if (!entry.ok()) {
      log_.Error("unreadable inflight entry", {{"key", c.key}});
      continue;
    }
    inflight_[id->str()] = {
        .worker_id = entry->worker_id, .lease = entry->lease, .scheduled = id->scheduled()};
    ++load_[entry->worker_id];
    if (unseen_.erase(id->str()) > 0) --unseen_load_[entry->worker_id];
  }
  for (const auto& [worker_id, n] : freed) {
    if (auto w = workers_.find(worker_id); w != workers_.end()) UnblockLocked(&w->second, n);
  }
  FindSuspectsLocked();
  ++wake_;
}

void Dispatcher::UnblockLocked(const WorkerInfo* worker, int n) {
  std::vector<Queued> back;
  for (auto it = blocked_.begin(); it != blocked_.end();) {
    Blocked& b = it->second;
    if (worker == nullptr || b.any_worker || model::Matches(*worker, b.selector)) {
      while (!b.entries.empty() && (worker == nullptr || static_cast<int>(back.size()) < n)) {
        back.push_back(std::move(b.entries.front()));
        b.entries.pop_front();
      }
    }
    it = b.entries.empty() ? blocked_.erase(it) : std::next(it);
  }
  // Older than anything queued since: they go first, in their order.
  for (auto it = back.rbegin(); it != back.rend(); ++it) queue_.push_front(std::move(*it));
}

void Dispatcher::FindSuspectsLocked() {
  const absl::Time now = clock_.Now();
  for (const auto& [id, in] : inflight_) {
    if (in.lease != 0 && !live_leases_.contains(in.lease) && !suspects_.contains(in.lease)) {
      suspects_[in.lease] = now;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The term.

absl::Status Dispatcher::RunAsLeader(const coord::LeaderTerm& term) {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return absl::OkStatus();
    workers_.clear();
    live_leases_.clear();
    load_.clear();
    inflight_.clear();
    unseen_.clear();
    unseen_load_.clear();
    in_rpc_.clear();
    blocked_.clear();
    queue_.clear();
    queued_.clear();
    parked_.clear();
    suspects_.clear();
    jobs_.clear();
    term_lost_ = false;
  }
  runs::GroupCommit commits(kv_, {.guard = {term.Guard()}});
  // The three lists + watches (each re-lists by itself when its watch ends). A store error
  // while starting them is retried within the term: a transient read error must not hand
  // leadership away.
  std::unique_ptr<coord::PrefixWatch> workers, inflight, pending;
  for (absl::Duration backoff = absl::Milliseconds(200);;
       backoff = std::min(backoff * 2, absl::Seconds(2))) {
    workers = std::make_unique<coord::PrefixWatch>(
        kv_, clock_, keys_.WorkersPrefix(),
        [this](const auto& state, const auto&) { OnWorkers(state); });
    inflight = std::make_unique<coord::PrefixWatch>(
        kv_, clock_, keys_.InflightPrefix(),
        [this](const auto&, const auto& changes) { OnInflight(changes); });
    pending = std::make_unique<coord::PrefixWatch>(
        kv_, clock_, keys_.PendingPrefix(),
        [this](const auto&, const auto& changes) { OnPending(changes); });
    absl::Status st = workers->Start();
    if (st.ok()) st = inflight->Start();
    if (st.ok()) st = pending->Start();
    if (st.ok()) break;
    log_.Warn("cannot list workers, inflight and pending entries; retrying",
              {{"error", std::string(st.message())}});
    pending.reset();
    inflight.reset();
    workers.reset();
    absl::MutexLock lock(&mu_);
    clock_.WaitUntil(mu_, clock_.Now() + backoff,
                     [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; });
    if (stop_) return absl::OkStatus();
    // Start over from an empty picture: the next lists deliver everything again.
    workers_.clear();
    live_leases_.clear();
    load_.clear();
    inflight_.clear();
    queue_.clear();
    queued_.clear();
    suspects_.clear();
  }

  std::vector<std::thread> senders;
  for (int i = 0; i < std::max(1, options_.dispatch_threads); ++i) {
    senders.emplace_back([this, &term, &commits] { SenderLoop(term, commits); });
  }
  for (auto& t : senders) t.join();
  pending->Stop();
  inflight->Stop();
  workers->Stop();
  absl::MutexLock lock(&mu_);
  if (term_lost_) {
    return absl::FailedPreconditionError(
        absl::StrCat("leadership lost (term ", term.term, "): dispatch stopped"));
  }
  return absl::OkStatus();
}

void Dispatcher::SenderLoop(const coord::LeaderTerm& term, runs::GroupCommit& commits) {
  (void)term;
  int64_t seen = -1;
  while (true) {
    std::vector<Queued> batch;
    store::LeaseId suspect = 0;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (stop_) return;
        const absl::Time now = clock_.Now();
        // Parked entries whose wait is over go back to the queue.
        for (auto it = parked_.begin(); it != parked_.end();) {
          if (it->not_before <= now) {
            queue_.push_back(std::move(*it));
            it = parked_.erase(it);
          } else {
            ++it;
          }
        }
        for (auto& [lease, due] : suspects_) {
          if (due <= now) {
            suspect = lease;
            due = absl::InfiniteFuture();  // one sender looks at it
            break;
          }
        }
        if (suspect != 0) break;
        // Blocked entries wait for a finishing run (OnInflight); now and then they are looked at
        // again anyway, so one whose starting deadline passed meanwhile ends (NoWorker).
        if (!blocked_.empty() && now >= next_blocked_check_) {
          UnblockLocked(nullptr, 0);
          next_blocked_check_ = now + options_.busy_retry;
        }
        while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        if (!batch.empty()) break;
        absl::Time until = absl::InfiniteFuture();
        for (const Queued& q : parked_) until = std::min(until, q.not_before);
        for (const auto& [lease, due] : suspects_) until = std::min(until, due);
        if (!blocked_.empty()) until = std::min(until, next_blocked_check_);
        seen = wake_;
        clock_.WaitUntil(mu_, until,
                         [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_ || wake_ != seen; });
      }
    }
    if (suspect != 0) {
      absl::StatusOr<store::LeaseTimeToLiveResponse> ttl = kv_.LeaseTimeToLive(suspect, false);
      if (ttl.ok() && ttl->ttl < 0) {
        HandleLostLease(commits, suspect);
        absl::MutexLock lock(&mu_);
        suspects_.erase(suspect);
        FindSuspectsLocked();  // entries a failed compare left behind look again
      } else {
        // Still alive (deregistered but not expired), or the store did not answer: later.
        absl::MutexLock lock(&mu_);
        suspects_[suspect] = clock_.Now() + options_.lease_recheck;
        ++wake_;
      }
      continue;
    }
    DispatchBatch(commits, std::move(batch));
  }
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

absl::StatusOr<std::vector<Dispatcher::JobInfo>> Dispatcher::JobsOf(
    const std::vector<Queued>& batch) {
  std::vector<model::JobName> missing;
  {
    absl::MutexLock lock(&mu_);
    for (const Queued& q : batch) {
      auto it = jobs_.find(q.id.job().str());
      if (it == jobs_.end() ||
          (it->second.exists && it->second.revision < q.pending.job_revision)) {
        missing.push_back(q.id.job());
      }
    }
  }
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  if (!missing.empty()) {
    HG_ASSIGN_OR_RETURN(
        auto responses, ReadMany(kv_, missing.size(), 1, [&](size_t i) {
          return std::vector<store::TxnOp>{store::RangeRequest::Key(keys_.Job(missing[i]))};
        }));
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < missing.size(); ++i) {
      JobInfo info;
      std::optional<store::KeyValue> kv = First(responses[i]);
      if (!kv) {
        info.exists = false;
      } else if (auto job = model::ParseStoredJob(kv->value); job.ok()) {
        info.revision = kv->mod_revision;
        info.selector = job->selector;
        info.starting_deadline = job->starting_deadline.value;
        info.forbid = job->concurrency_policy == model::ConcurrencyPolicy::kForbid;
      } else {
        info.revision = kv->mod_revision;  // unreadable: the worker reports it
      }
      jobs_[missing[i].str()] = std::move(info);
    }
  }
  std::vector<JobInfo> out;
  absl::MutexLock lock(&mu_);
  for (const Queued& q : batch) out.push_back(jobs_[q.id.job().str()]);
  return out;
}

void Dispatcher::DispatchBatch(runs::GroupCommit& commits, std::vector<Queued> batch) {
  absl::StatusOr<std::vector<JobInfo>> jobs = JobsOf(batch);
  if (!jobs.ok()) {
    log_.Warn("cannot read job definitions; retrying",
              {{"error", std::string(jobs.status().message())}});
    absl::MutexLock lock(&mu_);
    for (Queued& q : batch) {
      q.not_before = clock_.Now() + options_.busy_retry;
      parked_.push_back(std::move(q));
    }
    return;
  }
  const absl::Time now = clock_.Now();
  struct Item {
    Queued q;
    JobInfo job;
    absl::Time deadline;
    std::vector<std::string> candidates;  // worker ids, best first
    size_t next = 0;                      // next candidate to try
    std::string last_error;
    bool passing = true;    // every refusal so far was a passing one
    bool only_full = true;  // every refusal so far was a worker at capacity
    bool due = true;        // its instant has come: it counts against a worker's window
    trace::Span span;
  };
  std::vector<Item> items;
  items.reserve(batch.size());
  std::vector<Queued> no_worker;
  std::string no_worker_why;
  {
    absl::MutexLock lock(&mu_);
    // Least loaded first: what a worker holds (inflight/), what it started for us that the
    // watch has not shown yet, and what calls out now give it. A worker admits up to twice its
    // capacity (claims overlap runs; a run writing its result no longer counts there, but its
    // inflight entry lasts until that write): the leader's window is four times the capacity,
    // so a burst waits here — in order, woken by the next finishing run — instead of being
    // declined, while the worker is kept busy.
    auto window = [](const WorkerInfo& w) {
      return w.capacity > 0 ? 4 * w.capacity : std::numeric_limits<int>::max();
    };
    // Runs claimed ahead of their instant wait on their worker without taking a slot: only
    // what is due counts against the window.
    absl::flat_hash_map<std::string, int> ahead;
    absl::flat_hash_map<std::string, int> batch_ahead;  // this batch's runs not yet due
    for (const auto& [id, in] : inflight_) {
      if (in.scheduled > now) ++ahead[in.worker_id];
    }
    for (const auto& [id, u] : unseen_) {
      if (u.scheduled > now) ++ahead[u.worker_id];
    }
    for (auto it = unseen_.begin(); it != unseen_.end();) {
      if (now - it->second.since > absl::Seconds(2)) {
        --unseen_load_[it->second.worker_id];
        unseen_.erase(it++);
      } else {
        ++it;
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const absl::Time deadline = batch[i].id.scheduled() + (*jobs)[i].starting_deadline;
      if ((*jobs)[i].forbid && batch[i].id.scheduled() > now) {
        // Fired ahead of time: a Forbid run is claimed only at its instant (the claim takes the
        // lock; earlier, the previous run may still hold it and this one would be skipped).
        batch[i].not_before = batch[i].id.scheduled();
        parked_.push_back(std::move(batch[i]));
        continue;
      }
      Item item{.q = std::move(batch[i]), .job = (*jobs)[i], .deadline = deadline};
      std::vector<std::pair<int, std::string>> ranked;
      bool matched = false;
      for (const auto& [wid, w] : workers_) {
        // A deleted job's entries go to any worker, which records them killed.
        if ((*jobs)[i].exists && !model::Matches(w, (*jobs)[i].selector)) continue;
        matched = true;
        // The window counts what is due; the ranking counts everything a worker holds (runs
        // claimed ahead included), so an instant fired ahead is spread over the workers.
        const int due = load_[wid] + unseen_load_[wid] - ahead[wid] + in_rpc_[wid];
        if (due < window(w)) ranked.emplace_back(due + ahead[wid] + batch_ahead[wid], wid);
      }
      std::stable_sort(ranked.begin(), ranked.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (auto& [load, wid] : ranked) item.candidates.push_back(wid);
      // Counted from now on: other senders see the slot taken while this call is out.
      item.due = item.q.id.scheduled() <= now;
      if (!item.candidates.empty() && item.due) ++in_rpc_[item.candidates.front()];
      if (!item.candidates.empty() && !item.due) ++batch_ahead[item.candidates.front()];
      if (item.candidates.empty() && matched) {
        if (now < item.deadline) {
          const JobInfo& job = (*jobs)[i];
          std::string key = job.exists ? "" : "*";
          for (const auto& [k, v] : job.selector) absl::StrAppend(&key, k, "=", v, ",");
          Blocked& b = blocked_[key];
          b.selector = job.selector;
          b.any_worker = !job.exists;
          b.entries.push_back(std::move(item.q));
          if (blocked_.size() == 1 && b.entries.size() == 1) {
            next_blocked_check_ = now + options_.busy_retry;
          }
        } else {
          no_worker_why = "every matching worker stayed busy until the starting deadline";
          no_worker.push_back(std::move(item.q));
        }
        continue;
      }
      if (item.candidates.empty()) {
        if (workers_.empty() && now < item.deadline) {
          // No worker registered at all: after a takeover or an etcd outage they come back
          // within their session TTL. Wait while the instant may still start.
          item.q.not_before = item.deadline;
          parked_.push_back(std::move(item.q));
        } else {
          no_worker_why = workers_.empty() ? "no worker registered before the starting deadline"
                                           : "no live worker matches the job's selector";
          no_worker.push_back(std::move(item.q));
        }
        continue;
      }
      items.push_back(std::move(item));
    }
  }
  if (!no_worker.empty()) NoWorker(commits, no_worker, no_worker_why);
  for (Item& item : items) {
    item.span = trace::StartSpan(probe_.tracer, "dispatch", trace::SpanKind::kClient,
                                 item.q.pending.traceparent);
    item.span.SetAttribute("hourglass.execution_id", item.q.id.str());
    item.span.SetAttribute("hourglass.attempt", int64_t{item.q.pending.attempt});
  }

  std::vector<size_t> open(items.size());
  for (size_t i = 0; i < open.size(); ++i) open[i] = i;
  std::vector<size_t> done, park;
  while (!open.empty()) {
    // Assign each open item to its next candidate; one call per worker.
    std::map<std::string, std::vector<size_t>> by_worker;
    std::vector<size_t> still;
    for (size_t i : open) {
      Item& item = items[i];
      if (item.next >= item.candidates.size()) {
        if (item.next > 0 && item.due) {
          absl::MutexLock lock(&mu_);
          --in_rpc_[item.candidates[item.next - 1]];
        }
        park.push_back(i);
        continue;
      }
      const std::string& wid = item.candidates[item.next];
      if (item.next > 0 && item.due) {
        absl::MutexLock lock(&mu_);
        --in_rpc_[item.candidates[item.next - 1]];
        ++in_rpc_[wid];
      }
      ++item.next;
      by_worker[wid].push_back(i);
    }
    for (auto& [wid, members] : by_worker) {
      std::string address;
      {
        absl::MutexLock lock(&mu_);
        auto it = workers_.find(wid);
        if (it != workers_.end()) address = it->second.address;
      }
      if (address.empty()) {
        for (size_t i : members) still.push_back(i);
        continue;
      }
      RunRequest req;
      for (size_t i : members) {
        RunRequest::Item* r = req.add_items();
        const Item& item = items[i];
        r->set_execution_id(item.q.id.str());
        r->set_traceparent(item.span.traceparent());
        // The claim hint: one round trip for the worker's claim when it is still true.
        if (item.job.exists && item.job.revision > 0) {
          r->set_pending_revision(item.q.pending_revision);
          r->set_job_revision(item.job.revision);
          r->set_attempt(item.q.pending.attempt);
          r->set_forbid(item.job.forbid);
        }
      }
      absl::StatusOr<RunResponse> resp = client_.Run(address, req, options_.rpc_deadline);
      if (!resp.ok() || resp->items_size() != req.items_size()) {
        const absl::Status st =
            resp.ok() ? absl::InternalError("worker answered a different number of items")
                      : resp.status();
        if (probe_.dispatch_error) probe_.dispatch_error(absl::StatusCodeToString(st.code()));
        for (size_t i : members) {
          items[i].last_error = absl::StrCat(wid, ": ", st.ToString());
          items[i].passing = items[i].passing && Passing(st.code());
          items[i].only_full = false;
          still.push_back(i);
        }
        continue;
      }
      for (int k = 0; k < resp->items_size(); ++k) {
        const RunResponse::Item& answer = resp->items(k);
        Item& item = items[members[static_cast<size_t>(k)]];
        if (answer.outcome() == RunResponse::DECLINED) {
          const auto code = static_cast<absl::StatusCode>(answer.code());
          item.last_error = absl::StrCat(wid, ": ", answer.message());
          item.passing = item.passing && Passing(code);
          item.only_full = item.only_full && code == absl::StatusCode::kResourceExhausted;
          if (probe_.dispatch_error) probe_.dispatch_error(absl::StatusCodeToString(code));
          still.push_back(members[static_cast<size_t>(k)]);
          continue;
        }
        if (item.due) {
          absl::MutexLock lock(&mu_);
          --in_rpc_[wid];  // answered: from here the inflight watch (or `unseen_`) counts it
        }
        if (answer.outcome() == RunResponse::STARTED) {
          absl::MutexLock lock(&mu_);
          // Counted against the worker until its inflight entry shows up in the watch.
          if (!inflight_.contains(item.q.id.str()) &&
              unseen_.try_emplace(item.q.id.str(), Unseen{wid, now, item.q.id.scheduled()})
                  .second) {
            ++unseen_load_[wid];
          }
        }
        item.span.SetAttribute("hourglass.worker", wid);
        item.span.SetAttribute("hourglass.outcome", RunResponse::Outcome_Name(answer.outcome()));
        model::RunLogger(log_, item.q.id, wid, item.span.traceparent())
            .Debug("dispatched", {{"outcome", RunResponse::Outcome_Name(answer.outcome())}});
        done.push_back(members[static_cast<size_t>(k)]);
      }
    }
    open = std::move(still);
  }

  std::vector<Queued> failed;
  std::string failed_why;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i : done) queued_.erase(items[i].q.id.str());
    // Retries are timed from when this batch started, not from the answers.
    for (size_t i : park) {
      Item& item = items[i];
      if (item.passing && now < item.deadline) {
        item.span.SetAttribute("hourglass.outcome", "retrying");
        // Full workers free slots within milliseconds (a finishing run also wakes it).
        const absl::Duration wait = item.only_full ? options_.capacity_retry : options_.busy_retry;
        item.q.not_before = std::min(item.deadline, now + wait);
        parked_.push_back(std::move(item.q));
      } else {
        item.span.SetError(item.last_error);
        failed_why = item.last_error;
        failed.push_back(std::move(item.q));
      }
    }
    ++wake_;
  }
  if (!failed.empty()) NoWorker(commits, failed, failed_why);
}

void Dispatcher::NoWorker(runs::GroupCommit& commits, const std::vector<Queued>& entries,
                          const std::string& why) {
  if (probe_.dispatch_error) probe_.dispatch_error("no_worker");
  auto reads = ReadMany(kv_, entries.size(), 2, [&](size_t i) {
    return std::vector<store::TxnOp>{store::RangeRequest::Key(keys_.Exec(entries[i].id)),
                                     store::RangeRequest::Key(keys_.Pending(entries[i].id))};
  });
  std::vector<store::TxnRequest> changes;
  std::vector<size_t> change_of;
  if (reads.ok()) {
    const absl::Time now = clock_.Now();
    for (size_t i = 0; i < entries.size(); ++i) {
      std::optional<store::KeyValue> record_kv = First((*reads)[2 * i]);
      std::optional<store::KeyValue> pending_kv = First((*reads)[2 * i + 1]);
      if (!record_kv || !pending_kv) continue;  // claimed or ended meanwhile
      auto record = model::ParseExecution(record_kv->value);
      if (!record.ok() || record->status != model::ExecutionStatus::kScheduled) continue;
      runs::Ended ended = runs::EndBeforeStart(
          keys_, *record_kv, *record, *pending_kv, model::ExecutionStatus::kFailed,
          model::EndReason::kNoWorker, absl::StrCat("no worker available (", why, ")"), now);
      changes.push_back(std::move(ended.txn));
      change_of.push_back(i);
    }
  }
  std::vector<runs::GroupCommit::Result> results = commits.CommitAll(std::move(changes));
  bool guard_failed = false;
  for (size_t j = 0; j < results.size(); ++j) {
    guard_failed = guard_failed || results[j].guard_failed;
    const bool recorded = results[j].answered() && results[j].succeeded;
    model::RunLogger(log_, entries[change_of[j]].id, /*worker=*/"", "")
        .Warn("no worker available", {{"error", why}, {"recorded", recorded}});
    if (recorded && probe_.no_worker) probe_.no_worker(entries[change_of[j]].id.job().str());
  }
  if (guard_failed) EndTerm();
  absl::MutexLock lock(&mu_);
  if (!reads.ok() ||
      std::any_of(results.begin(), results.end(), [](const auto& r) { return !r.status.ok(); })) {
    // The store did not take it: look again shortly (the entry is still pending).
    for (Queued q : entries) {
      q.not_before = clock_.Now() + options_.busy_retry;
      parked_.push_back(std::move(q));
    }
    return;
  }
  for (const Queued& q : entries) queued_.erase(q.id.str());
}

// ---------------------------------------------------------------------------------------------
// Lost runs.

void Dispatcher::HandleLostLease(runs::GroupCommit& commits, store::LeaseId lease) {
  std::vector<model::ExecutionId> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, in] : inflight_) {
      if (in.lease != lease) continue;
      if (auto parsed = model::ExecutionId::Parse(id); parsed.ok()) ids.push_back(*parsed);
    }
  }
  if (ids.empty()) return;
  auto reads = ReadMany(kv_, ids.size(), 4, [&](size_t i) {
    return std::vector<store::TxnOp>{store::RangeRequest::Key(keys_.Inflight(ids[i])),
                                     store::RangeRequest::Key(keys_.Exec(ids[i])),
                                     store::RangeRequest::Key(keys_.Kill(ids[i])),
                                     store::RangeRequest::Key(keys_.Job(ids[i].job()))};
  });
  if (!reads.ok()) {
    log_.Warn("cannot read lost runs; retrying",
              {{"error", std::string(reads.status().message())}});
    absl::MutexLock lock(&mu_);
    suspects_[lease] = clock_.Now() + options_.lease_recheck;
    return;
  }
  const absl::Time now = clock_.Now();
  std::vector<store::TxnRequest> changes;
  std::vector<runs::Loss> losses;
  std::vector<size_t> change_of;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::optional<store::KeyValue> inflight_kv = First((*reads)[4 * i]);
    if (!inflight_kv) continue;  // finished meanwhile
    auto inflight = runs::DecodeInflight(inflight_kv->value);
    if (!inflight.ok() || inflight->lease != lease) continue;
    std::optional<store::KeyValue> kill_kv = First((*reads)[4 * i + 2]);
    std::optional<store::KeyValue> job_kv = First((*reads)[4 * i + 3]);
    std::optional<model::Job> job;
    if (job_kv) {
      if (auto parsed = model::ParseStoredJob(job_kv->value); parsed.ok()) job = *parsed;
    }
    std::optional<std::string> kill_reason;
    if (kill_kv) kill_reason = kill_kv->value.empty() ? "kill requested" : kill_kv->value;
    runs::Loss loss =
        runs::Lose(keys_, ids[i], *inflight_kv, *inflight, First((*reads)[4 * i + 1]),
                   job ? &*job : nullptr, job_kv ? job_kv->mod_revision : 0, kill_reason, now);
    changes.push_back(loss.txn);
    losses.push_back(std::move(loss));
    change_of.push_back(i);
  }
  std::vector<runs::GroupCommit::Result> results = commits.CommitAll(std::move(changes));
  bool guard_failed = false;
  for (size_t j = 0; j < results.size(); ++j) {
    guard_failed = guard_failed || results[j].guard_failed;
    if (results[j].answered() && results[j].succeeded) {
      const runs::Loss& loss = losses[j];
      model::RunLogger(log_, ids[change_of[j]], loss.record.worker_id, "", loss.record.trace_id)
          .Warn("worker lost during run",
                {{"outcome", std::string(runs::ToString(loss.decision))}});
      if (probe_.run_lost && loss.decision != runs::LossDecision::kGone) {
        probe_.run_lost(ids[change_of[j]].job().str(), runs::ToString(loss.decision));
      }
    }
  }
  if (guard_failed) EndTerm();
}

}  // namespace hg::dispatch
