// Per-field validation errors carried inside an absl::Status, so they survive StatusOr plumbing
// and reach the one place that maps errors to HTTP (api/errors.h), which renders them as
//   {"error":"…","details":["field: message",…],"code":"invalid_argument",
//    "fields":[{"field":"…","message":"…"}]}
// Field paths use dots for objects and [i] for arrays: `executor.url`, `labels.team`,
// `executor.expected_status[1]`. Pure; thread-compatible.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace hg::model {

struct FieldError {
  std::string field;
  std::string message;
  friend bool operator==(const FieldError&, const FieldError&) = default;
  friend std::ostream& operator<<(std::ostream& os, const FieldError& e) {
    return os << e.field << ": " << e.message;
  }
};

// An InvalidArgument status whose message summarizes `errors` ("<what>: <field>: <message>; …")
// and whose payload lists them. `errors` must not be empty.
absl::Status InvalidFieldsError(std::string_view what, const std::vector<FieldError>& errors);

// The field errors attached by InvalidFieldsError; empty for any other status.
std::vector<FieldError> FieldErrorsOf(const absl::Status& status);

}  // namespace hg::model
