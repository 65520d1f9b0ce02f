#include "api/errors.h"

#include "gtest/gtest.h"
#include "model/field_errors.h"

namespace hg::api {
namespace {

TEST(ErrorsTest, MapsCodes) {
  EXPECT_EQ(ErrorToHttp(absl::InvalidArgumentError("x")).status, 400);
  EXPECT_EQ(ErrorToHttp(absl::OutOfRangeError("x")).status, 400);
  EXPECT_EQ(ErrorToHttp(absl::NotFoundError("x")).status, 404);
  EXPECT_EQ(ErrorToHttp(absl::AlreadyExistsError("x")).status, 409);
  EXPECT_EQ(ErrorToHttp(absl::FailedPreconditionError("x")).status, 409);
  EXPECT_EQ(ErrorToHttp(absl::AbortedError("x")).status, 409);
  EXPECT_EQ(ErrorToHttp(absl::ResourceExhaustedError("x")).status, 429);
  EXPECT_EQ(ErrorToHttp(absl::UnauthenticatedError("x")).status, 401);
  EXPECT_EQ(ErrorToHttp(absl::PermissionDeniedError("x")).status, 403);
  EXPECT_EQ(ErrorToHttp(absl::UnimplementedError("x")).status, 501);
  EXPECT_EQ(ErrorToHttp(absl::UnavailableError("x")).status, 503);
  EXPECT_EQ(ErrorToHttp(absl::DeadlineExceededError("x")).status, 503);
  EXPECT_EQ(ErrorToHttp(absl::InternalError("x")).status, 500);
  EXPECT_EQ(ErrorToHttp(absl::UnknownError("x")).status, 500);
}

TEST(ErrorsTest, Bodies) {
  // "error" a string and "details" a list of strings (the v1 shape), "code" and "fields" beside.
  EXPECT_EQ(ErrorToHttp(absl::NotFoundError("job \"a\" not found")).body,
            R"({"error":"job \"a\" not found","details":["job \"a\" not found"],)"
            R"("code":"not_found"})");
  EXPECT_EQ(ErrorToHttp(absl::UnavailableError("connection refused")).body,
            R"({"error":"store unavailable: connection refused",)"
            R"("details":["store unavailable: connection refused"],"code":"unavailable"})");
  EXPECT_EQ(ErrorToHttp(model::InvalidFieldsError(
                            "invalid job", {{"name", "is required"}, {"cron_expr", "bad minute"}}))
                .body,
            R"({"error":"invalid job: name: is required; cron_expr: bad minute",)"
            R"("details":["name: is required","cron_expr: bad minute"],"code":"invalid_argument",)"
            R"("fields":[{"field":"name","message":"is required"},)"
            R"({"field":"cron_expr","message":"bad minute"}]})");
  EXPECT_EQ(ErrorBody("payload_too_large", "too big"),
            R"({"error":"too big","details":["too big"],"code":"payload_too_large"})");
}

}  // namespace
}  // namespace hg::api
