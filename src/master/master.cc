#include "master/master.h"

#include "absl/strings/str_cat.h"
#include "coord/election.h"
#include "coord/registry.h"
#include "coord/session.h"
#include "model/json.h"

namespace hg::master {

class LeaderContext {
 public:
  coord::Session* session = nullptr;
  coord::Election* election = nullptr;
};

Master::Master(store::Kv& kv, Clock& clock, model::Keys keys, dispatch::WorkerClient& workers,
               Options options)
    : kv_(kv),
      clock_(clock),
      keys_(std::move(keys)),
      workers_(workers),
      options_(std::move(options)) {}

Master::~Master() { Stop(); }

void Master::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { ElectionLoop(stop); });
}

void Master::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void Master::ElectionLoop(std::stop_token stop) {
  model::Json self;
  self["id"] = options_.id;
  self["address"] = options_.address;
  const std::string value = model::DumpJson(self);
  coord::Registry masters(kv_, clock_, keys_.MastersName());
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop.stop_requested()) {
    coord::Session session(kv_, clock_, {.ttl_seconds = options_.election_ttl_seconds});
    if (absl::Status st = session.Start(); !st.ok()) {
      log_.Warn("cannot open a session; retrying", {{"error", std::string(st.message())}});
      absl::Mutex mu;
      absl::MutexLock lock(&mu);
      clock_.WaitUntil(mu, clock_.Now() + backoff, [&] { return stop.stop_requested(); });
      backoff = std::min(backoff * 2, absl::Seconds(2));
      continue;
    }
    backoff = absl::Milliseconds(100);
    if (absl::Status st = masters.Register(session, options_.id, value); !st.ok()) {
      log_.Warn("cannot register as master", {{"error", std::string(st.message())}});
    }
    coord::Election election(session, keys_.ElectionName());
    while (!stop.stop_requested() && session.IsAlive()) {
      absl::Status st = election.Campaign(value, stop);
      if (st.ok()) {
        LeaderContext ctx{.session = &session, .election = &election};
        LeadOneTerm(stop, ctx);
        break;  // a new session for the next term: the old one may be compromised
      }
      if (absl::IsCancelled(st) || coord::IsSessionLost(st)) break;
      log_.Warn("campaign failed; retrying", {{"error", std::string(st.message())}});
      absl::Mutex mu;
      absl::MutexLock lock(&mu);
      clock_.WaitUntil(mu, clock_.Now() + absl::Milliseconds(200),
                       [&] { return stop.stop_requested(); });
    }
    if (stop.stop_requested()) {
      (void)election.Resign();
      (void)session.Close();  // revoke: our masters/ and election keys go at once
    } else {
      session.Stop();
    }
  }
}

void Master::LeadOneTerm(std::stop_token stop, LeaderContext& ctx) {
  const scheduler::LeaderTerm term{.term = ctx.election->term(), .leader_key = ctx.election->key()};
  log_.Info("became leader", {{"term", term.term}, {"master", options_.id}});
  term_.store(term.term);
  leader_.store(true);
  if (options_.probe.leadership) options_.probe.leadership(true, term.term);

  scheduler::HistoryRetention retention(kv_, clock_, keys_, options_.retention);
  Compactor compactor(kv_, clock_, options_.compactor, options_.compactor_probe);
  scheduler::SchedulerProbe scheduler_probe = options_.scheduler_probe;
  scheduler_probe.recorded = [&retention,
                              chained = scheduler_probe.recorded](const std::string& job) {
    retention.MarkDirty(job);
    if (chained) chained(job);
  };
  scheduler::Scheduler scheduler(kv_, clock_, keys_, options_.scheduler, scheduler_probe);
  dispatch::Dispatcher dispatcher(kv_, clock_, keys_, workers_, options_.dispatcher,
                                  options_.dispatcher_probe);
  absl::Mutex mu;
  bool ended = false;  // guarded by mu
  auto end_term = [&] {
    absl::MutexLock lock(&mu);
    ended = true;
  };
  // Losing the session stops scheduling before anything else happens.
  auto listener = ctx.session->AddLostListener([&](const absl::Status&) {
    scheduler.Stop();
    dispatcher.Stop();
    retention.Stop();
    compactor.Stop();
    end_term();
  });
  std::thread sched_thread([&] {
    absl::Status st = scheduler.RunAsLeader(term);
    if (!st.ok()) log_.Warn("scheduler ended", {{"error", std::string(st.message())}});
    end_term();
  });
  std::thread dispatch_thread([&] {
    absl::Status st = dispatcher.RunAsLeader(term);
    if (!st.ok()) log_.Warn("dispatcher ended", {{"error", std::string(st.message())}});
    end_term();
  });
  // Retention and compaction are housekeeping: their end never ends the term.
  std::thread retention_thread([&] { retention.RunAsLeader(); });
  std::thread compactor_thread([&] { compactor.RunAsLeader(); });
  {
    absl::MutexLock lock(&mu);
    while (!ended && !stop.stop_requested()) {
      mu.AwaitWithTimeout(absl::Condition(&ended), absl::Milliseconds(100));
    }
  }
  scheduler.Stop();
  dispatcher.Stop();
  retention.Stop();
  compactor.Stop();
  sched_thread.join();
  dispatch_thread.join();
  retention_thread.join();
  compactor_thread.join();
  ctx.session->RemoveLostListener(listener);
  leader_.store(false);
  if (options_.probe.leadership) options_.probe.leadership(false, term.term);
  log_.Info("leadership ended", {{"term", term.term}});
}

}  // namespace hg::master
