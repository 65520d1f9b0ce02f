// Session: one lease kept alive for as long as its owner is alive (etcd concurrency.Session).
//
// Election, Mutex and Registry keys are attached to a session's lease, so they vanish when the
// owner dies or loses the store. The session's second job is to say so AT ONCE: DESIGN.md rule 3
// ("no run outlives its owner's session") needs the worker to learn that it can no longer prove
// its lease is alive before the store expires it, so that it kills its runs in time.
//
// The lease counts as lost (IsAlive() false, Done() true, listeners called once) when
//   * a keepalive answers "lease not found" (it expired or was revoked), or
//   * no keepalive has been confirmed for (TTL - safety margin), measured from the moment the
//     last successful keepalive request was SENT (the store renewed it no earlier than that), so
//     the owner hears about it at least `safety_margin` before the store can expire the lease, or
//   * the owner calls Stop() or Close().
// Loss is final: make a new Session (new lease) to take part again.
//
// Timing: a keepalive every TTL/3 (etcd's client does the same); after a failed keepalive
// (kUnavailable, kDeadlineExceeded, ...) retry every `retry_interval` until confirmed or lost.
// Every wait goes through the Clock, so tests drive a session with FakeClock.
//
// Threads: Start() starts two threads owned by the session, joined by Stop(): the keepalive
// loop (its store calls may block up to the store's deadline) and a watchdog that fires the
// "unconfirmed for too long" loss on time even while a keepalive call hangs.
// All public methods are thread-safe. Lost listeners run on the thread that detects the loss
// (keepalive thread, watchdog thread, or the caller of Stop()/Close()), one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "store/kv.h"

namespace hg::coord {

struct SessionOptions {
  int64_t ttl_seconds = 60;  // etcd's default session TTL; the store may grant a longer one
  // 0 = TTL/3.
  absl::Duration keepalive_interval = absl::ZeroDuration();
  // Pause before re-sending a keepalive that failed; capped at keepalive_interval.
  absl::Duration retry_interval = absl::Seconds(1);
  // How long before the store could expire the lease the session declares it lost. 0 = TTL/5.
  absl::Duration safety_margin = absl::ZeroDuration();
};

// kAborted status every coord recipe returns once its session is lost or closed.
absl::Status SessionLostError(std::string_view why);
bool IsSessionLost(const absl::Status& status);

class Session {
 public:
  // Called once with the reason (a kAborted status) when the session ends.
  using LostListener = std::function<void(const absl::Status& why)>;
  using ListenerId = int64_t;

  // `kv` and `clock` must outlive the session. Nothing happens until Start().
  Session(store::Kv& kv, const Clock& clock, SessionOptions options = {});
  ~Session();  // Stop(); does not revoke (the lease then expires after its TTL)
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Grants the lease and starts the keepalive. Call once. Errors: the store's (kUnavailable...),
  // kFailedPrecondition if called twice.
  absl::Status Start();
  // Stops the keepalive and ends the session (listeners called with "session closed"). The
  // lease is orphaned, not revoked: its keys live until it expires. Idempotent.
  void Stop();
  // Stop() then revoke the lease, which deletes every key attached to it at once.
  absl::Status Close();

  store::LeaseId lease() const;  // 0 before Start()
  int64_t ttl_seconds() const;   // TTL granted by the store (0 before Start())

  // True from a successful Start() until the loss; also false as soon as the keepalive is
  // overdue, even before the watchdog thread has run.
  bool IsAlive() const;
  bool Done() const { return !IsAlive(); }
  // OK while alive, else why it ended (kAborted).
  absl::Status status() const;
  // The store cannot expire the lease before this instant (steady time of the clock): the last
  // confirmed keepalive's send time plus the TTL it granted. The session declares itself lost
  // `safety_margin` earlier.
  SteadyTime ConfirmedUntil() const;
  // Blocks until the session ends or `deadline` (clock time). Returns Done().
  bool WaitDone(absl::Time deadline) const;

  // Adds a listener. If the session has already ended, calls it right away on this thread.
  // Returns an id for RemoveLostListener.
  ListenerId AddLostListener(LostListener listener);
  // After it returns, the listener is not running and will not be called. Must not be called
  // from inside a listener.
  void RemoveLostListener(ListenerId id);

  store::Kv& kv() const { return kv_; }
  const Clock& clock() const { return clock_; }

 private:
  void KeepAliveLoop();
  void WatchdogLoop();
  // Marks the session lost (first caller wins) and runs the listeners.
  void MarkLost(absl::Status why);
  bool OverdueLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits (mu_ held) until `wake` or the clock's steady time reaches `due`; returns wake().
  bool WaitSteadyLocked(SteadyTime due, const std::function<bool()>& wake) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Kv& kv_;
  const Clock& clock_;
  const SessionOptions options_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status lost_ ABSL_GUARDED_BY(mu_);  // non-OK once ended
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  store::LeaseId lease_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t ttl_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration interval_ ABSL_GUARDED_BY(mu_);
  absl::Duration retry_ ABSL_GUARDED_BY(mu_);
  absl::Duration margin_ ABSL_GUARDED_BY(mu_);
  // The store will not expire the lease before this instant (steady time).
  SteadyTime valid_until_ ABSL_GUARDED_BY(mu_);
  SteadyTime first_keepalive_ ABSL_GUARDED_BY(mu_);
  int64_t renewals_ ABSL_GUARDED_BY(mu_) = 0;  // wakes the watchdog on each renewal
  std::thread keepalive_thread_;
  std::thread watchdog_thread_;
  absl::Mutex threads_mu_;  // serializes Stop() callers joining the threads

  // Held while listeners run, so RemoveLostListener can wait for a running one.
  absl::Mutex listeners_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::map<ListenerId, LostListener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  ListenerId next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 1;
  bool listeners_fired_ ABSL_GUARDED_BY(listeners_mu_) = false;
};

}  // namespace hg::coord
