#include "api/errors.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "model/field_errors.h"
#include "model/json.h"

namespace hg::api {
namespace {

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

}  // namespace

std::string_view CodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    case absl::StatusCode::kInvalidArgument:
      return "invalid_argument";
    case absl::StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case absl::StatusCode::kNotFound:
      return "not_found";
    case absl::StatusCode::kAlreadyExists:
      return "already_exists";
    case absl::StatusCode::kPermissionDenied:
      return "permission_denied";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case absl::StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case absl::StatusCode::kAborted:
      return "aborted";
    case absl::StatusCode::kOutOfRange:
      return "out_of_range";
    case absl::StatusCode::kUnimplemented:
      return "unimplemented";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kDataLoss:
      return "data_loss";
    case absl::StatusCode::kUnauthenticated:
      return "unauthenticated";
    default:
      return "internal";
  }
}

namespace {

// The one body shape: v1's {"error": string, "details": [string]} plus "code" and, for
// validation errors, "fields". Each detail is one problem ("field: message").
std::string Body(std::string_view code, std::string_view message,
                 const std::vector<model::FieldError>& fields) {
  model::Json details = model::Json::array();
  for (const auto& f : fields) details.push_back(absl::StrCat(f.field, ": ", f.message));
  if (fields.empty()) details.push_back(message);
  model::Json body = {{"error", message}, {"details", std::move(details)}, {"code", code}};
  if (!fields.empty()) {
    model::Json list = model::Json::array();
    for (const auto& f : fields) list.push_back({{"field", f.field}, {"message", f.message}});
    body["fields"] = std::move(list);
  }
  return model::DumpJson(body);
}

}  // namespace

std::string ErrorBody(std::string_view code, std::string_view message) {
  return Body(code, message, {});
}

HttpError ErrorToHttp(const absl::Status& status) {
  HttpError out;
  out.status = HttpStatusOf(status.code());
  std::string message(status.message());
  if (status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    message = absl::StrCat("store unavailable: ", message.empty() ? "no answer" : message);
  }
  out.body = Body(CodeName(status.code()), message, model::FieldErrorsOf(status));
  return out;
}

}  // namespace hg::api
