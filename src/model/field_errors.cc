#include "model/field_errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace hg::model {
namespace {

constexpr char kPayloadUrl[] = "type.hourglass.dev/hg.model.FieldErrors";

}  // namespace

absl::Status InvalidFieldsError(std::string_view what, const std::vector<FieldError>& errors) {
  std::string message(what);
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < errors.size(); ++i) {
    absl::StrAppend(&message, i == 0 ? ": " : "; ", errors[i].field, ": ", errors[i].message);
    list.push_back({{"field", errors[i].field}, {"message", errors[i].message}});
  }
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(
      kPayloadUrl, absl::Cord(list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  return status;
}

std::vector<FieldError> FieldErrorsOf(const absl::Status& status) {
  std::vector<FieldError> out;
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload) return out;
  nlohmann::json list =
      nlohmann::json::parse(std::string(*payload), nullptr, /*allow_exceptions=*/false);
  if (!list.is_array()) return out;
  for (const auto& e : list) {
    if (!e.is_object() || !e.contains("field") || !e.contains("message")) continue;
    if (!e["field"].is_string() || !e["message"].is_string()) continue;
    out.push_back({e["field"].get<std::string>(), e["message"].get<std::string>()});
  }
  return out;
}

}  // namespace hg::model
