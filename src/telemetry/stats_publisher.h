// StatsPublisher: writes this process's RunStats to the store (stats/<minute>/<node>, see
// model/run_stats.h and docs/design/storage.md) every kStatsPublishInterval, and a last time,
// marked `stopped`, when it stops. Also deletes every node's values older than kStatsRetention
// once a minute, so the stats/ keys stay bounded (nodes × retention minutes) whoever runs.
//
//   StatsPublisher publisher(kv, clock, keys, "master-1", metrics.run_stats(), {});
//   publisher.Start();
//   ...
//   publisher.Stop();   // final write; also done by the destructor
//
// Values the store refused are kept (at most the retention's worth) and written with the next
// publish. Start()/Stop() from one owner thread; PublishOnce() is thread-safe.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "model/keys.h"
#include "model/run_stats.h"
#include "store/kv.h"
#include "telemetry/run_stats.h"

namespace hg::telemetry {

class StatsPublisher {
 public:
  struct Options {
    absl::Duration interval = model::kStatsPublishInterval;
    size_t values_per_txn = 32;  // bounds one write's size (a value is at most a few KiB)
  };
  // `kv`, `clock` and `stats` must outlive the publisher. `node` names this process (unique in
  // the cluster: the worker id or the master id).
  StatsPublisher(store::Kv& kv, const Clock& clock, model::Keys keys, std::string node,
                 RunStats& stats, Options options);
  ~StatsPublisher();
  StatsPublisher(const StatsPublisher&) = delete;
  StatsPublisher& operator=(const StatsPublisher&) = delete;

  void Start();
  // Stops the loop and publishes a last time (stopped), unless the last publish failed (the store
  // is unreachable: shutdown does not wait for another timeout). Idempotent.
  void Stop();

  // Publishes what is due now (the loop's step). The store's error when a write failed; what it
  // did not take is retried next time.
  absl::Status PublishOnce(bool stopping = false);

 private:
  void Loop();

  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  const std::string node_;
  RunStats& stats_;
  const Options options_;
  absl::Mutex publish_mu_;  // one publish at a time
  std::vector<model::NodeMinute> unsent_ ABSL_GUARDED_BY(publish_mu_);
  absl::Time pruned_minute_ ABSL_GUARDED_BY(publish_mu_) = absl::InfinitePast();
  bool failing_ ABSL_GUARDED_BY(publish_mu_) = false;  // the last publish failed
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace hg::telemetry
