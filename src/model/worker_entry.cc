#include "model/worker_entry.h"

#include <algorithm>

#include "common/status.h"
#include "model/field_errors.h"
#include "model/json.h"
#include "model/json_reader.h"

namespace hg::model {

std::string EncodeWorkerEntry(const WorkerEntry& e) {
  Json j = Json::object();
  j["id"] = e.id;
  j["address"] = e.address;
  Json labels = Json::object();
  for (const auto& [k, v] : e.labels) labels[k] = v;
  j["labels"] = std::move(labels);
  j["capacity"] = e.capacity;
  j["version"] = e.version;
  return DumpJson(j);
}

absl::StatusOr<WorkerEntry> DecodeWorkerEntry(std::string_view text, std::string_view key_id) {
  HG_ASSIGN_OR_RETURN(Json json, ParseJson(text));
  if (!json.is_object()) {
    return InvalidFieldsError("invalid worker entry", {{"", "must be a JSON object"}});
  }
  std::vector<FieldError> errors;
  ObjectReader r(json, "", &errors);
  WorkerEntry e;
  e.id = r.String("id").value_or(std::string(key_id));
  e.address = r.String("address").value_or("");
  if (auto labels = r.StringMap("labels")) e.labels = *labels;
  if (auto capacity = r.Int("capacity")) e.capacity = static_cast<int>(*capacity);
  e.version = r.String("version").value_or("");
  if (e.address.empty()) errors.push_back({"address", "is required"});
  if (!errors.empty()) return InvalidFieldsError("invalid worker entry", errors);
  return e;
}

bool Matches(const WorkerEntry& entry, const std::map<std::string, std::string>& selector) {
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    auto it = entry.labels.find(kv.first);
    return it != entry.labels.end() && it->second == kv.second;
  });
}

}  // namespace hg::model
