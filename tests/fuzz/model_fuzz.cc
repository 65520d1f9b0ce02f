// libFuzzer target for everything in model/ that reads outside input: job request bodies (the
// API), stored job and execution records, execution ids. Besides "no crash, no leak", it checks
// the codec invariants: an accepted job re-validates, survives stored and response round trips
// unchanged; an accepted execution / id re-encodes to itself; job names round-trip through the
// store-key codec.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "model/execution.h"
#include "model/ids.h"
#include "model/job.h"
#include "model/keys.h"

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

// Names reach store keys only through Keys' codec: a valid name's segment decodes back to it
// and holds nothing that could leave its prefix; any segment that decodes is the canonical one.
void FuzzKeySegment(std::string_view input) {
  if (auto name = hg::model::JobName::Parse(input); name.ok()) {
    const std::string segment = hg::model::Keys::NameSegment(*name);
    Check(segment.find_first_of("/@") == std::string::npos, "segment holds '/' or '@'");
    auto back = hg::model::Keys::NameFromSegment(segment);
    Check(back && *back == *name, "name segment round trip");
  }
  if (auto name = hg::model::Keys::NameFromSegment(input)) {
    Check(hg::model::Keys::NameSegment(*name) == input, "a non-canonical segment was accepted");
  }
  if (auto id = hg::model::Keys::IdFromSegment(input)) {
    Check(hg::model::Keys::IdSegment(*id) == input, "a non-canonical id segment was accepted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzJob(input);
  FuzzExecution(input);
  FuzzId(input);
  FuzzKeySegment(input);
  return 0;
}
