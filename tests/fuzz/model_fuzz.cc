// libFuzzer target for everything in model/ that reads outside input: job request bodies (the
// API), stored job and execution records, execution ids. Besides "no crash, no leak", it checks
// the codec invariants: an accepted job re-validates, survives stored and response round trips
// unchanged; an accepted execution / id re-encodes to itself.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "model/execution.h"
#include "model/ids.h"
#include "model/job.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "model_fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

void FuzzJob(std::string_view input) {
  auto job = hg::model::ParseJobRequest(input);
  if (!job.ok()) {
    Check(job.status().code() == absl::StatusCode::kInvalidArgument, "job error is not 400");
    return;
  }
  Check(hg::model::ValidateJob(*job).ok(), "accepted job fails ValidateJob");
  Check(job->Schedule().ok(), "accepted job has no schedule");
  job->id = "fuzz";
  job->created_at = absl::FromUnixSeconds(1772938800);
  auto stored = hg::model::ParseStoredJob(hg::model::SerializeJob(*job));
  Check(stored.ok() && *stored == *job, "stored round trip");
  auto again = hg::model::DecodeJobRequest(hg::model::EncodeJobResponse(*job, {}));
  Check(again.ok() && again->name == job->name && again->executor == job->executor &&
            again->retry_policy == job->retry_policy,
        "response -> request round trip");
}

void FuzzExecution(std::string_view input) {
  auto e = hg::model::ParseExecution(input);
  if (!e.ok()) return;
  auto back = hg::model::ParseExecution(hg::model::SerializeExecution(*e));
  Check(back.ok(), "execution re-parse");
  // Output may have been made valid UTF-8 once; after that the encoding is a fixed point.
  Check(hg::model::SerializeExecution(*back) == hg::model::SerializeExecution(*e),
        "execution round trip");
}

void FuzzId(std::string_view input) {
  auto id = hg::model::ExecutionId::Parse(input);
  if (!id.ok()) return;
  Check(id->str() == input, "id text");
  auto again = hg::model::ExecutionId::FromSuffix(id->job(), id->suffix());
  Check(again.ok() && *again == *id, "id suffix round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzJob(input);
  FuzzExecution(input);
  FuzzId(input);
  return 0;
}
