#include "auth/audit_entry.h"

#include <algorithm>

namespace hg::auth {

model::Json AuditEntryJson(const AuditEntry& e) {
  return model::Json{{"time", model::FormatRfc3339(e.time)},
                     {"actor", e.actor},
                     {"role", e.role},
                     {"method", e.method},
                     {"route", e.route},
                     {"target", e.target},
                     {"status", e.status},
                     {"remote", e.remote}};
}

std::string EncodeAuditEntry(const AuditEntry& e) { return model::DumpJson(AuditEntryJson(e)); }

absl::StatusOr<AuditEntry> DecodeAuditEntry(std::string_view text) {
  auto json = model::ParseJson(text);
  if (!json.ok()) return json.status();
  if (!json->is_object()) return absl::InvalidArgumentError("audit entry: not an object");
  AuditEntry e;
  for (auto [key, field] : {std::pair{"actor", &e.actor}, std::pair{"role", &e.role},
                            std::pair{"method", &e.method}, std::pair{"route", &e.route},
                            std::pair{"target", &e.target}, std::pair{"remote", &e.remote}}) {
    auto it = json->find(key);
    if (it != json->end() && it->is_string()) *field = it->get<std::string>();
  }
  auto time = json->find("time");
  if (time == json->end() || !time->is_string()) {
    return absl::InvalidArgumentError("audit entry: \"time\" missing");
  }
  auto t = model::ParseRfc3339(time->get<std::string>());
  if (!t.ok()) return t.status();
  e.time = *t;
  auto status = json->find("status");
  if (status != json->end() && status->is_number_integer()) e.status = status->get<int>();
  return e;
}

bool IsAuditCursor(std::string_view cursor) {
  return cursor.size() == 28 && cursor[15] == '-' &&
         std::all_of(cursor.begin(), cursor.begin() + 15,
                     [](char c) { return c >= '0' && c <= '9'; }) &&
         std::all_of(cursor.begin() + 16, cursor.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace hg::auth
