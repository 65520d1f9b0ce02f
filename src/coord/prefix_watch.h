// PrefixWatch: an in-memory copy of every key under a prefix, kept current by a store watch,
// with a handler told of each change. The base of Election::Observe and Registry::Watch.
//
// It lists the prefix, then watches from the next revision, so nothing is lost or seen twice.
// When the watch ends with an error (e.g. the revision was compacted) it re-lists, tells the
// handler the difference, and watches again; failed re-lists are retried with backoff (clock).
//
// Threads: Start() delivers the initial state on the caller's thread; later deliveries run on
// the store's watch thread or on this object's supervisor thread, one call at a time. The
// handler must not call Stop() or destroy the PrefixWatch. Stop() and the destructor may be
// called from any other thread; after Stop() returns the handler is not running and will not run.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "store/kv.h"

namespace hg::coord {

class PrefixWatch {
 public:
  // One key that changed: before = nullopt means it appeared, after = nullopt that it went.
  struct Change {
    std::string key;
    std::optional<store::KeyValue> before;
    std::optional<store::KeyValue> after;
  };
  using State = std::map<std::string, store::KeyValue>;  // by key
  // Called with the whole state after the changes. The first call lists every key as appeared
  // (possibly none).
  using Handler = std::function<void(const State& state, const std::vector<Change>& changes)>;

  // `kv` and `clock` must outlive this object. Watches every key starting with `prefix`.
  PrefixWatch(store::Kv& kv, const Clock& clock, std::string prefix, Handler handler);
  ~PrefixWatch();
  PrefixWatch(const PrefixWatch&) = delete;
  PrefixWatch& operator=(const PrefixWatch&) = delete;

  // Lists the prefix, delivers it, starts watching. Returns the store's error if the first list
  // or watch fails (then nothing runs). Call once.
  absl::Status Start();
  void Stop();

 private:
  // Lists the prefix, delivers the difference with state_, starts a watch after the list.
  absl::Status Resync(bool initial);
  void OnWatch(const store::WatchResponse& resp);
  void Supervise();

  store::Kv& kv_;
  const Clock& clock_;
  const std::string prefix_;
  const Handler handler_;

  // Held across apply + deliver, so deliveries never overlap and state_ is consistent.
  absl::Mutex deliver_mu_;
  State state_ ABSL_GUARDED_BY(deliver_mu_);

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;  // the current watch ended; re-list
  std::unique_ptr<store::Watch> watch_ ABSL_GUARDED_BY(mu_);
  std::thread supervisor_;
};

}  // namespace hg::coord
