#include "dispatch/dispatcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "model/execution.h"
#include "model/job.h"
#include "model/json.h"
#include "model/outcome_text.h"
#include "model/run_log.h"
#include "telemetry/tracer.h"

namespace hg::dispatch {
namespace {

using store::Compare;

std::optional<WorkerInfo> ParseWorker(const std::string& id, const std::string& value) {
  auto j = model::ParseJson(value);
  if (!j.ok() || !j->is_object()) return std::nullopt;
  WorkerInfo w;
  w.id = j->value("id", id);
  w.address = j->value("address", "");
  w.capacity = j->value("capacity", 0);
  if (auto it = j->find("labels"); it != j->end() && it->is_object()) {
    for (auto& [k, v] : it->items()) {
      if (v.is_string()) w.labels[k] = v.get<std::string>();
    }
  }
  if (w.address.empty()) return std::nullopt;
  return w;
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

std::vector<WorkerInfo> Dispatcher::Workers() const {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerInfo> out;
  for (const auto& [id, w] : workers_) out.push_back(w);
  return out;
}

void Dispatcher::ApplyWorker(const store::WatchEvent& ev) {
  const std::string id = ev.kv.key.substr(keys_.WorkersPrefix().size());
  absl::MutexLock lock(&mu_);
  if (ev.type == store::EventType::kDelete) {
    workers_.erase(id);
  } else if (auto w = ParseWorker(id, ev.kv.value)) {
    workers_[id] = *w;
    UnparkLocked(/*all=*/true);
  }
  if (probe_.workers) probe_.workers(workers_.size());
}

void Dispatcher::ApplyRunning(const scheduler::LeaderTerm& term, const store::WatchEvent& ev) {
  (void)term;
  absl::MutexLock lock(&mu_);
  if (ev.type == store::EventType::kPut) {
    auto j = model::ParseJson(ev.kv.value);
    std::string worker = j.ok() && j->is_object() ? j->value("worker_id", "") : "";
    if (running_.emplace(ev.kv.key, worker).second) ++in_flight_[worker];
    return;
  }
  if (auto it = running_.find(ev.kv.key); it != running_.end()) {
    --in_flight_[it->second];
    running_.erase(it);
  }
  if (auto id = keys_.IdFromKey(ev.kv.key, keys_.RunningPrefix())) lost_.push_back(id->str());
}

absl::Status Dispatcher::RunAsLeader(const scheduler::LeaderTerm& term) {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return absl::OkStatus();
    workers_.clear();
    in_flight_.clear();
    running_.clear();
    queue_.clear();
    queued_.clear();
    lost_.clear();
    parked_.clear();
  }
  // One consistent snapshot of workers, running, inflight and pending, then watches after it.
  HG_ASSIGN_OR_RETURN(auto workers, kv_.Range(store::RangeRequest::Prefix(keys_.WorkersPrefix())));
  const store::Revision rev = workers.revision;
  auto at = [rev](store::RangeRequest r) {
    r.revision = rev;
    return r;
  };
  HG_ASSIGN_OR_RETURN(auto running,
                      kv_.Range(at(store::RangeRequest::Prefix(keys_.RunningPrefix()))));
  HG_ASSIGN_OR_RETURN(auto inflight,
                      kv_.Range(at(store::RangeRequest::Prefix(keys_.InflightPrefix()))));
  HG_ASSIGN_OR_RETURN(auto pending,
                      kv_.Range(at(store::RangeRequest::Prefix(keys_.PendingPrefix()))));
  for (const auto& kv : workers.kvs) ApplyWorker({.type = store::EventType::kPut, .kv = kv});
  std::set<std::string> running_ids;
  for (const auto& kv : running.kvs) {
    ApplyRunning(term, {.type = store::EventType::kPut, .kv = kv});
    if (auto id = keys_.IdFromKey(kv.key, keys_.RunningPrefix())) running_ids.insert(id->str());
  }
  {
    absl::MutexLock lock(&mu_);
    // In flight without a live worker: lost while nobody was leader.
    for (const auto& kv : inflight.kvs) {
      auto id = keys_.IdFromKey(kv.key, keys_.InflightPrefix());
      if (id && !running_ids.count(id->str())) lost_.push_back(id->str());
    }
    for (const auto& kv : pending.kvs) {
      if (queued_.insert(kv.key).second) queue_.emplace_back(kv.key, kv.value);
    }
  }
  auto on_workers = [this](const store::WatchResponse& r) {
    for (const auto& ev : r.events) ApplyWorker(ev);
  };
  auto on_running = [this, term](const store::WatchResponse& r) {
    for (const auto& ev : r.events) ApplyRunning(term, ev);
  };
  auto on_pending = [this](const store::WatchResponse& r) {
    absl::MutexLock lock(&mu_);
    for (const auto& ev : r.events) {
      if (ev.type == store::EventType::kPut && queued_.insert(ev.kv.key).second) {
        queue_.emplace_back(ev.kv.key, ev.kv.value);
      }
    }
  };
  HG_ASSIGN_OR_RETURN(
      auto w1,
      kv_.StartWatch(store::WatchRequest::Prefix(keys_.WorkersPrefix(), rev + 1), on_workers));
  HG_ASSIGN_OR_RETURN(
      auto w2,
      kv_.StartWatch(store::WatchRequest::Prefix(keys_.RunningPrefix(), rev + 1), on_running));
  HG_ASSIGN_OR_RETURN(
      auto w3,
      kv_.StartWatch(store::WatchRequest::Prefix(keys_.PendingPrefix(), rev + 1), on_pending));

  std::vector<std::thread> senders;
  for (int i = 0; i < std::max(1, options_.dispatch_threads); ++i) {
    senders.emplace_back([this, term] { SenderLoop(term); });
  }
  for (auto& t : senders) t.join();
  w1->Cancel();
  w2->Cancel();
  w3->Cancel();
  return absl::OkStatus();
}

void Dispatcher::UnparkLocked(bool all) {
  const absl::Time now = clock_.Now();
  auto keep = std::remove_if(parked_.begin(), parked_.end(), [&](const Parked& p) {
    if (!all && p.until > now) return false;
    queue_.emplace_back(p.key, p.envelope);
    return true;
  });
  parked_.erase(keep, parked_.end());
}

void Dispatcher::SenderLoop(const scheduler::LeaderTerm& term) {
  while (true) {
    std::string key, envelope, lost;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !queue_.empty() || !lost_.empty();
      };
      while (!ready()) {
        absl::Time until = absl::InfiniteFuture();
        for (const Parked& p : parked_) until = std::min(until, p.until);
        clock_.WaitUntil(mu_, until, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return ready() || (!parked_.empty() && clock_.Now() >= until);
        });
        UnparkLocked(/*all=*/false);  // waited out: they fail now unless a worker came
      }
      if (stop_) return;
      if (!lost_.empty()) {
        lost = std::move(lost_.front());
        lost_.pop_front();
      } else {
        key = std::move(queue_.front().first);
        envelope = std::move(queue_.front().second);
        queue_.pop_front();
      }
    }
    if (!lost.empty()) {
      HandleLost(term, lost);
    } else if (DispatchOne(term, key, envelope)) {
      absl::MutexLock lock(&mu_);
      queued_.erase(key);
    }
  }
}

bool Dispatcher::DispatchOne(const scheduler::LeaderTerm& term, const std::string& pending_key,
                             const std::string& envelope) {
  auto id = keys_.IdFromKey(pending_key, keys_.PendingPrefix());
  auto env = model::ParseJson(envelope);
  if (!id || !env.ok() || !env->is_object() || !env->contains("job")) {
    log_.Error("unreadable pending entry", {{"key", pending_key}});
    return true;
  }
  const model::Json& job_json = (*env)["job"];
  std::map<std::string, std::string> selector;
  if (auto it = job_json.find("selector"); it != job_json.end() && it->is_object()) {
    for (auto& [k, v] : it->items()) {
      if (v.is_string()) selector[k] = v.get<std::string>();
    }
  }
  hourglass::v1::RunRequest req;
  req.set_execution_id(id->str());
  req.set_job_json(model::DumpJson(job_json));
  req.set_scheduled_time_unix_ms(absl::ToUnixMillis(id->scheduled()));
  req.set_attempt(env->value("attempt", 1));
  req.set_term(term.term);
  trace::Span span = trace::StartSpan(probe_.tracer, "dispatch", trace::SpanKind::kClient,
                                      env->value("traceparent", ""));
  span.SetAttribute("hourglass.execution_id", id->str());
  span.SetAttribute("hourglass.attempt", int64_t{req.attempt()});
  span.SetAttribute("hourglass.term", term.term);
  req.set_traceparent(span.traceparent());

  // The instant may still start until its starting deadline.
  absl::Duration deadline = absl::Seconds(60);
  if (auto it = job_json.find("starting_deadline"); it != job_json.end() && it->is_string()) {
    if (auto d = model::GoDuration::Parse(it->get<std::string>()); d.ok()) deadline = d->value;
  }
  const absl::Time until = id->scheduled() + deadline;
  const absl::Time started = clock_.Now();  // retries are timed from here, not from the answers

  // Candidates: matching selector, least in-flight first.
  std::vector<std::pair<int, WorkerInfo>> candidates;
  bool none_registered = false;
  {
    absl::MutexLock lock(&mu_);
    none_registered = workers_.empty();
    if (workers_.empty()) {
      // No worker registered at all: after a takeover or an etcd outage they come back within
      // their session TTL. Wait for one (ApplyWorker unparks) while the instant may still start.
      if (clock_.Now() < until) {
        parked_.push_back({.until = until, .key = pending_key, .envelope = envelope});
        span.SetAttribute("hourglass.outcome", "waiting_for_worker");
        return false;
      }
    }
    for (const auto& entry : workers_) {
      const WorkerInfo& w = entry.second;
      bool match = std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
        auto it = w.labels.find(kv.first);
        return it != w.labels.end() && it->second == kv.second;
      });
      if (match) candidates.emplace_back(in_flight_[entry.first], w);
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string last_error;
  if (candidates.empty()) {
    last_error = none_registered ? "no worker registered before the starting deadline"
                                 : "no live worker matches the job's selector";
  }
  // Every refusal passing (a worker whose session is being renewed after an etcd outage, one
  // at capacity): worth another try while the instant may start.
  bool all_passing = !candidates.empty();
  for (const auto& [load, w] : candidates) {
    auto resp = client_.Run(w.address, req, options_.rpc_deadline);
    if (resp.ok()) {
      span.SetAttribute("hourglass.worker", w.id);
      span.SetAttribute("hourglass.outcome",
                        hourglass::v1::RunResponse::Outcome_Name(resp->outcome()));
      model::RunLogger(log_, *id, w.id, span.traceparent())
          .Debug("dispatched",
                 {{"outcome", hourglass::v1::RunResponse::Outcome_Name(resp->outcome())}});
      return true;
    }
    if (absl::IsFailedPrecondition(resp.status()) &&
        resp.status().message().find("stale leader term") != absl::string_view::npos) {
      model::RunLogger(log_, *id, w.id, span.traceparent())
          .Warn("worker saw a newer term; stopping dispatch", {{"term", term.term}});
      Stop();
      return true;
    }
    last_error = absl::StrCat(w.id, ": ", resp.status().ToString());
    all_passing = all_passing &&
                  (absl::IsUnavailable(resp.status()) || absl::IsResourceExhausted(resp.status()) ||
                   absl::IsDeadlineExceeded(resp.status()));
    if (probe_.dispatch_error)
      probe_.dispatch_error(absl::StatusCodeToString(resp.status().code()));
  }
  if (all_passing && started < until) {
    absl::MutexLock lock(&mu_);
    parked_.push_back({.until = std::min(until, started + options_.busy_retry),
                       .key = pending_key,
                       .envelope = envelope});
    span.SetAttribute("hourglass.outcome", "retrying");
    return false;
  }
  if (probe_.dispatch_error) probe_.dispatch_error("no_worker");
  span.SetError(absl::StrCat(Av(model::kNoWorkerAvailable), " (", last_error, ")"));
  // Nobody could take it: record the failure (guarded: still scheduled, still our term).
  const std::string exec_key = keys_.Exec(*id);
  auto cur = store::Get(kv_, exec_key);
  if (!cur.ok() || !cur->has_value()) return true;
  auto rec = model::ParseExecution((*cur)->value);
  if (!rec.ok() || rec->status != model::ExecutionStatus::kScheduled) return true;
  rec->status = model::ExecutionStatus::kFailed;
  rec->error = absl::StrCat(Av(model::kNoWorkerAvailable), " (", last_error, ")");
  rec->end_time = clock_.Now();
  store::TxnRequest txn;
  txn.compare = {Compare::CreateRevision(term.leader_key, Compare::Result::kEqual, term.term),
                 Compare::ModRevision(exec_key, Compare::Result::kEqual, (*cur)->mod_revision)};
  txn.success = {store::PutRequest{.key = exec_key, .value = model::SerializeExecution(*rec)},
                 store::DeleteRequest::Key(pending_key)};
  auto resp = kv_.Txn(txn);
  model::RunLogger(log_, *id, /*worker=*/"", span.traceparent())
      .Warn("no worker available",
            {{"error", last_error}, {"recorded", resp.ok() && resp->succeeded}});
  return true;
}

void Dispatcher::HandleLost(const scheduler::LeaderTerm& term, const std::string& id_text) {
  auto id = model::ExecutionId::Parse(id_text);
  if (!id.ok()) return;
  const std::string exec_key = keys_.Exec(*id);
  const std::string inflight_key = keys_.Inflight(*id);
  auto inflight = store::Get(kv_, inflight_key);
  if (!inflight.ok() || !inflight->has_value()) return;  // finished normally
  auto cur = store::Get(kv_, exec_key);
  if (!cur.ok()) return;
  store::TxnRequest txn;
  txn.compare = {
      Compare::CreateRevision(term.leader_key, Compare::Result::kEqual, term.term),
      Compare::Version(keys_.Running(*id), Compare::Result::kEqual, 0),
      Compare::ModRevision(inflight_key, Compare::Result::kEqual, (*inflight)->mod_revision)};
  txn.success.push_back(store::DeleteRequest::Key(inflight_key));
  std::string outcome = "released";
  std::string lost_worker, trace_id;  // for the log line, before the record is rewritten
  if (cur->has_value()) {
    txn.compare.push_back(
        Compare::ModRevision(exec_key, Compare::Result::kEqual, (*cur)->mod_revision));
    auto rec = model::ParseExecution((*cur)->value);
    auto job = store::Get(kv_, keys_.Job(id->job()));
    if (rec.ok()) {
      lost_worker = rec->worker_id;
      trace_id = rec->trace_id;
    }
    if (rec.ok() && !model::IsFinal(rec->status)) {
      int max_retries = 0;
      std::string job_json;
      if (job.ok() && job->has_value()) {
        job_json = (*job)->value;
        if (auto parsed = model::ParseStoredJob(job_json); parsed.ok()) {
          max_retries = parsed->retry_policy.max_retries;
        }
      }
      if (!job_json.empty() && rec->attempt <= max_retries) {
        rec->status = model::ExecutionStatus::kScheduled;
        rec->retries_attempted = rec->attempt;
        rec->attempt += 1;
        rec->error = "worker lost; retrying on another worker";
        rec->worker_id.clear();
        txn.success.push_back(store::PutRequest{
            .key = keys_.Pending(*id),
            .value = model::MakeDispatchEnvelope(job_json, id->scheduled(), rec->attempt, "")});
        outcome = "retried";
      } else {
        rec->status = model::ExecutionStatus::kFailed;
        rec->error = "worker lost";
        rec->end_time = clock_.Now();
        outcome = "failed";
      }
      txn.success.push_back(
          store::PutRequest{.key = exec_key, .value = model::SerializeExecution(*rec)});
    }
  }
  auto resp = kv_.Txn(txn);
  if (resp.ok() && resp->succeeded) {
    model::RunLogger(log_, *id, lost_worker, /*traceparent=*/"", trace_id)
        .Warn("worker lost during run", {{"outcome", outcome}});
  }
}

}  // namespace hg::dispatch
