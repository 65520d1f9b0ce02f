// One audit entry and its one codec (docs/design/security.md "Audit"); AuditLog (audit.h) stores
// them. Pure; thread-safe. Also built by the fuzz preset.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/json.h"

namespace hg::auth {

struct AuditEntry {
  absl::Time time = absl::UnixEpoch();
  std::string actor;   // token name; "anonymous" without one (auth off, or refused)
  std::string role;    // the actor's role; empty when unknown
  std::string method;  // "POST"
  std::string route;   // the route template: "/jobs/{name}/trigger"
  std::string target;  // the job, execution or token the call named; empty for none
  int status = 0;      // the HTTP status answered
  std::string remote;  // the caller's address
};

// The entry as JSON: the stored value and the API's answer are the same object.
model::Json AuditEntryJson(const AuditEntry& entry);
// The codec of the stored value (JSON). Decode: InvalidArgument naming what is wrong.
std::string EncodeAuditEntry(const AuditEntry& entry);
absl::StatusOr<AuditEntry> DecodeAuditEntry(std::string_view text);

// A page cursor of GET /audit: the key suffix of an entry ("<15 digits>-<12 hex>").
bool IsAuditCursor(std::string_view cursor);

}  // namespace hg::auth
