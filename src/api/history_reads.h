// Newest-first reads of keys that end in a record suffix (`<13-digit ms>-<hex>`: one job's
// records exec/<job>/, or one of its status index prefixes) in growing windows of time.
//
// A store's range costs grow with every key inside the range, not only with those returned:
// etcd 3.4 collects the revisions of the whole range before applying the limit, and SQLite counts
// it. A page of a 100,000-record history must therefore not range over all of it. Such keys sort
// by scheduled time (model/keys.h), so these reads walk down from the top in windows of
// 1 minute, 8 minutes, 64 minutes, 8.5 hours, 2.8 days, … (×8 each step, the last one open to
// the oldest key): a page costs at most 8 times the keys of its own time span, plus a few empty
// reads for a sparse job. docs/design/api.md "History at scale".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/ids.h"
#include "model/keys.h"
#include "store/kv.h"

namespace hg::api {

// One window [lower, upper) of keys.
struct RecordWindow {
  std::string lower;
  std::string upper;
};

// The windows of `prefix` below `upper` (prefix + a record suffix, or PrefixEnd(prefix)) walking
// down from the time `upper` stands for (for PrefixEnd: `now`; records fired ahead sit above it
// and fall in the first window). The last window starts at the prefix.
std::vector<RecordWindow> NewestFirstWindows(const std::string& prefix, const std::string& upper,
                                             absl::Time now);

// The windows of `prefix` from `lower` (prefix + a record suffix) upwards, growing the same way
// from the time `lower` stands for; the last one is open to PrefixEnd(prefix) once a window
// reaches a day past `now`.
std::vector<RecordWindow> OldestFirstWindows(const std::string& prefix, const std::string& lower,
                                             absl::Time now);

struct RecordRun {
  std::vector<store::KeyValue> kvs;  // newest first, at most `limit`
  bool more = false;                 // older records exist below the last one
};

// At most `limit` (≥ 1) keys of `prefix` below `upper`, newest first.
absl::StatusOr<RecordRun> ReadNewestRecords(store::Kv& kv, const std::string& prefix,
                                            const std::string& upper, absl::Time now, int64_t limit,
                                            bool keys_only = false);

// The oldest key of `prefix` at or above `lower`, if any.
absl::StatusOr<std::optional<store::KeyValue>> ReadOldestRecordFrom(store::Kv& kv,
                                                                    const std::string& prefix,
                                                                    const std::string& lower,
                                                                    absl::Time now);

// The newest record of each job (nullopt: none), reading every job's window k (the last hour,
// the last 32 days, the rest) in one transaction per `ops_per_txn` jobs, dropping jobs once
// found. A job silent for a month with a long history costs one read of it.
absl::StatusOr<std::vector<std::optional<store::KeyValue>>> ReadNewestRecordOfEach(
    store::Kv& kv, const model::Keys& keys, const std::vector<model::JobName>& names,
    absl::Time now, size_t ops_per_txn);

}  // namespace hg::api
