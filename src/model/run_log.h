// The identity of one run on log lines (issue #6 "Logs"): every line about a run carries
//   job, execution_id, scheduled_time (RFC 3339), worker, trace_id, span_id
// — always all six, "" for what is not known where the line is written (the worker before a
// dispatch chose one; the trace ids when tracing is off and the run has no trace).
//
//   model::RunLogger(log_, id, worker_id, span.traceparent()).Info("claimed", {{"attempt", 1}});
//
// Building the fields in one place is what keeps call sites from forgetting one. Pure; the
// returned ContextLogger refers to `logger`, which must outlive it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/logging.h"
#include "model/ids.h"

namespace hg::model {

struct RunLogFields {
  std::string job;
  std::string execution_id;
  std::string scheduled_time;
  std::string worker;
  std::string trace_id;
  std::string span_id;

  // `traceparent`: the W3C context of the span the line is written under (trace_id and span_id
  // come from it); when it is empty or malformed, trace_id is `fallback_trace_id` (e.g. the
  // record's) and span_id "".
  static RunLogFields Of(const ExecutionId& id, std::string_view worker,
                         std::string_view traceparent, std::string_view fallback_trace_id = "");

  // The fields as a log context, with `filter` (may be empty) applied to each line's own string
  // fields and message (secret redaction: model/secrets.h).
  log::Context ToContext(std::function<std::string(std::string_view)> filter = {}) const;
};

// A logger bound to one run's fields (RunLogFields::Of + ToContext).
log::ContextLogger RunLogger(const log::Logger& logger, const ExecutionId& id,
                             std::string_view worker, std::string_view traceparent,
                             std::string_view fallback_trace_id = "",
                             std::function<std::string(std::string_view)> filter = {});

}  // namespace hg::model
