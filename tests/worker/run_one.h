// RunOne: WorkerService::Run for a one-item request, as the tests call it — the item's answer,
// or a status carrying a declined item's code or the failed call's status.
#pragma once

#include "absl/status/statusor.h"
#include "worker/worker_service.h"

namespace hg::worker::testing {

inline absl::StatusOr<hourglass::v1::RunResponse::Item> RunOne(
    WorkerService& w, const hourglass::v1::RunRequest& request) {
  auto resp = w.Run(request);
  if (!resp.ok()) return resp.status();
  if (resp->items_size() != 1) return absl::InternalError("not one item");
  const auto& item = resp->items(0);
  if (item.outcome() == hourglass::v1::RunResponse::DECLINED) {
    return absl::Status(static_cast<absl::StatusCode>(item.code()), item.message());
  }
  return item;
}

}  // namespace hg::worker::testing
