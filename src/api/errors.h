// The one place where errors become HTTP (STYLE.md "Errors"). Every error response of the API
// has the same body, v1's shape ("error" a string, "details" a list of strings) extended:
//   {"error":"<message>","details":["<problem>",…],"code":"invalid_argument"
//    [,"fields":[{"field":"…","message":"…"}]]}
// "details" has one "field: message" per field error, else the message alone.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace hg::api {

struct HttpError {
  int status = 500;
  std::string body;  // JSON, see above
};

// Maps a status from a service call:
//   InvalidArgument, OutOfRange 400 · NotFound 404 · AlreadyExists, FailedPrecondition, Aborted 409
//   ResourceExhausted 429 · Unavailable, DeadlineExceeded 503 ("store unavailable: …")
//   Unauthenticated 401 · PermissionDenied 403 · Unimplemented 501 · anything else 500.
// Field errors attached with model::InvalidFieldsError become "fields". `status` must not be OK.
HttpError ErrorToHttp(const absl::Status& status);

// An error body for failures that have no absl::Status (unknown route, 413, 415, …).
std::string ErrorBody(std::string_view code, std::string_view message);

// The snake_case name of a status code: "invalid_argument", "not_found", …
std::string_view CodeName(absl::StatusCode code);

}  // namespace hg::api
