#include "model/run_log.h"

#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "model/json.h"

namespace hg::model {
namespace {

bool IsLowerHex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

RunLogFields RunLogFields::Of(const ExecutionId& id, std::string_view worker,
                              std::string_view traceparent, std::string_view fallback_trace_id) {
  RunLogFields f;
  f.job = id.job().str();
  f.execution_id = id.str();
  f.scheduled_time = id.empty() ? "" : FormatRfc3339(id.scheduled());
  f.worker = std::string(worker);
  f.trace_id = std::string(fallback_trace_id);
  // "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>" (trace/trace_context.h parses it
  // fully; only the two ids are needed here, and model must not depend on telemetry).
  std::vector<absl::string_view> parts = absl::StrSplit(Av(traceparent), '-');
  if (parts.size() >= 4 && parts[1].size() == 32 && parts[2].size() == 16 &&
      IsLowerHex(std::string_view(parts[1].data(), parts[1].size())) &&
      IsLowerHex(std::string_view(parts[2].data(), parts[2].size()))) {
    f.trace_id = std::string(parts[1]);
    f.span_id = std::string(parts[2]);
  }
  return f;
}

log::Context RunLogFields::ToContext(std::function<std::string(std::string_view)> filter) const {
  log::Context c;
  c.fields = {
      {"job", job},       {"execution_id", execution_id}, {"scheduled_time", scheduled_time},
      {"worker", worker}, {"trace_id", trace_id},         {"span_id", span_id}};
  c.filter = std::move(filter);
  return c;
}

log::ContextLogger RunLogger(const log::Logger& logger, const ExecutionId& id,
                             std::string_view worker, std::string_view traceparent,
                             std::string_view fallback_trace_id,
                             std::function<std::string(std::string_view)> filter) {
  return log::ContextLogger(
      logger,
      RunLogFields::Of(id, worker, traceparent, fallback_trace_id).ToContext(std::move(filter)));
}

}  // namespace hg::model
