// WorkerEntry: a worker's registry entry, workers/<worker-id> (DESIGN.md "Key layout"), written
// by the worker under its session lease and read by the leader's dispatcher and the API's
// /cluster — through this one codec. Pure value type; thread-compatible.
//
// JSON: {"id", "address", "labels": {…}, "capacity", "version"}.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hg::model {

struct WorkerEntry {
  std::string id;
  std::string address;  // gRPC host:port the leader calls
  std::map<std::string, std::string> labels;
  int capacity = 0;     // concurrent runs it takes
  std::string version;  // of the hourglass binary
  int64_t lease = 0;    // not encoded: the key's lease, filled in by readers
  friend bool operator==(const WorkerEntry&, const WorkerEntry&) = default;
};

std::string EncodeWorkerEntry(const WorkerEntry& entry);
// InvalidArgument when the text is not an object with a non-empty address; `id` defaults to
// `key_id` (the last segment of the key).
absl::StatusOr<WorkerEntry> DecodeWorkerEntry(std::string_view text, std::string_view key_id);

// Whether `entry` carries every label of `selector` with the same value.
bool Matches(const WorkerEntry& entry, const std::map<std::string, std::string>& selector);

}  // namespace hg::model
