#include "coord/session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/strings.h"

namespace hg::coord {
namespace {

constexpr char kLostMarker[] = "session ended";

const log::Logger& Log() {
  static const log::Logger* logger = new log::Logger("coord");
  return *logger;
}

}  // namespace

absl::Status SessionLostError(std::string_view why) {
  return absl::AbortedError(absl::StrCat(kLostMarker, ": ", Av(why)));
}

bool IsSessionLost(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAborted &&
         absl::StrContains(status.message(), kLostMarker);
}

Session::Session(store::Kv& kv, const Clock& clock, SessionOptions options)
    : kv_(kv), clock_(clock), options_(options) {}

Session::~Session() { Stop(); }

absl::Status Session::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_ || ended_) return absl::FailedPreconditionError("coord: session already started");
    if (options_.ttl_seconds <= 0) return absl::InvalidArgumentError("coord: session ttl <= 0");
    started_ = true;
  }
  // The store starts counting the TTL no earlier than when the request leaves.
  const SteadyTime sent = clock_.SteadyNow();
  absl::StatusOr<store::LeaseGrantResponse> grant = kv_.LeaseGrant(options_.ttl_seconds);
  absl::MutexLock lock(&mu_);
  if (!grant.ok()) {
    started_ = false;
    return grant.status();
  }
  const absl::Duration ttl = absl::Seconds(grant->ttl);
  interval_ =
      options_.keepalive_interval > absl::ZeroDuration() ? options_.keepalive_interval : ttl / 3;
  retry_ = std::min(options_.retry_interval, interval_);
  margin_ = options_.safety_margin > absl::ZeroDuration() ? options_.safety_margin : ttl / 5;
  if (margin_ >= ttl) margin_ = ttl / 5;
  lease_ = grant->id;
  ttl_ = grant->ttl;
  valid_until_ = sent + absl::ToChronoNanoseconds(ttl);
  first_keepalive_ = sent + absl::ToChronoNanoseconds(interval_);
  keepalive_thread_ = std::thread([this] { KeepAliveLoop(); });
  watchdog_thread_ = std::thread([this] { WatchdogLoop(); });
  return absl::OkStatus();
}

void Session::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  {
    absl::MutexLock lock(&threads_mu_);
    // A listener running on one of our threads may end up here: never join oneself.
    for (std::thread* t : {&keepalive_thread_, &watchdog_thread_}) {
      if (t->joinable() && t->get_id() != std::this_thread::get_id()) t->join();
    }
  }
  MarkLost(SessionLostError("session closed"));
}

absl::Status Session::Close() {
  const store::LeaseId id = lease();
  Stop();
  if (id == 0) return absl::OkStatus();
  absl::Status status = kv_.LeaseRevoke(id);
  if (status.code() == absl::StatusCode::kNotFound) return absl::OkStatus();  // already gone
  return status;
}

store::LeaseId Session::lease() const {
  absl::MutexLock lock(&mu_);
  return lease_;
}

int64_t Session::ttl_seconds() const {
  absl::MutexLock lock(&mu_);
  return ttl_;
}

bool Session::OverdueLocked() const {
  return clock_.SteadyNow() + absl::ToChronoNanoseconds(margin_) >= valid_until_;
}

bool Session::IsAlive() const {
  absl::MutexLock lock(&mu_);
  return started_ && !ended_ && !OverdueLocked();
}

absl::Status Session::status() const {
  absl::MutexLock lock(&mu_);
  if (ended_) return lost_;
  if (!started_) return absl::FailedPreconditionError("coord: session not started");
  if (OverdueLocked()) return SessionLostError("keepalive overdue");
  return absl::OkStatus();
}

SteadyTime Session::ConfirmedUntil() const {
  absl::MutexLock lock(&mu_);
  return valid_until_;
}

bool Session::WaitDone(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  clock_.WaitUntil(mu_, deadline, [this] {
    mu_.AssertHeld();
    return ended_;
  });
  return ended_ || (started_ && OverdueLocked());
}

Session::ListenerId Session::AddLostListener(LostListener listener) {
  absl::Status why;
  {
    absl::MutexLock lock(&listeners_mu_);
    if (!listeners_fired_) {
      const ListenerId id = next_listener_++;
      listeners_.emplace(id, std::move(listener));
      return id;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    why = lost_;
  }
  listener(why);
  return 0;
}

void Session::RemoveLostListener(ListenerId id) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

void Session::MarkLost(absl::Status why) {
  store::LeaseId lease;
  {
    absl::MutexLock lock(&mu_);
    if (ended_) return;
    ended_ = true;
    lost_ = why;
    lease = lease_;
  }
  if (lease != 0) {
    Log().Warn("session ended", {{"lease", lease}, {"reason", std::string(why.message())}});
  }
  absl::MutexLock lock(&listeners_mu_);
  listeners_fired_ = true;
  for (auto& [id, listener] : listeners_) listener(why);
  listeners_.clear();
}

bool Session::WaitSteadyLocked(SteadyTime due, const std::function<bool()>& wake) const {
  // Clock::WaitUntil takes a wall deadline. Waiting in chunks of at most a second and
  // re-reading steady time bounds what a jump of the wall clock can do to us to one second.
  while (!wake()) {
    const SteadyTime now = clock_.SteadyNow();
    if (now >= due) return false;
    const absl::Duration chunk = std::min(absl::FromChrono(due - now), absl::Seconds(1));
    clock_.WaitUntil(mu_, clock_.Now() + chunk, wake);
  }
  return true;
}

void Session::KeepAliveLoop() {
  SteadyTime next;  // the next keepalive, counted from the previous send
  absl::Duration interval, retry;
  store::LeaseId lease;
  {
    absl::MutexLock lock(&mu_);
    next = first_keepalive_;
    interval = interval_;
    retry = retry_;
    lease = lease_;
  }
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      WaitSteadyLocked(next, [this] {
        mu_.AssertHeld();
        return stopping_ || ended_;
      });
      if (stopping_) return;
      if (ended_) break;
    }
    const SteadyTime sent = clock_.SteadyNow();
    absl::StatusOr<int64_t> ttl = kv_.LeaseKeepAliveOnce(lease);
    if (ttl.ok() && *ttl > 0) {
      absl::MutexLock lock(&mu_);
      valid_until_ = std::max(valid_until_, sent + std::chrono::seconds(*ttl));
      ++renewals_;
      next = sent + absl::ToChronoNanoseconds(interval);
      continue;
    }
    if (ttl.ok() || ttl.status().code() == absl::StatusCode::kNotFound) {
      MarkLost(SessionLostError("lease expired or revoked"));
      return;
    }
    Log().Warn("keepalive failed, retrying",
               {{"lease", lease}, {"error", std::string(ttl.status().message())}});
    next = sent + absl::ToChronoNanoseconds(retry);
  }
  // The watchdog gave the lease up while the store may still hold it. Revoke it (best effort)
  // so that its keys go now, as the owner was told, instead of up to `margin` later.
  (void)kv_.LeaseRevoke(lease);
}

void Session::WatchdogLoop() {
  bool overdue = false;
  {
    absl::MutexLock lock(&mu_);
    while (!stopping_ && !ended_) {
      if (OverdueLocked()) {
        overdue = true;
        break;
      }
      const int64_t seen = renewals_;
      const SteadyTime due = valid_until_ - absl::ToChronoNanoseconds(margin_);
      WaitSteadyLocked(due, [this, seen] {
        mu_.AssertHeld();
        return stopping_ || ended_ || renewals_ != seen;
      });
    }
  }
  if (overdue) {
    MarkLost(SessionLostError("keepalive not confirmed within ttl minus safety margin"));
  }
}

}  // namespace hg::coord
