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
  EXPECT_EQ(ErrorToHttp(absl::NotFoundError("job \"a\" not found")).body,
            R"({"error":{"code":"not_found","message":"job \"a\" not found"}})");
  EXPECT_EQ(ErrorToHttp(absl::UnavailableError("connection refused")).body,
            R"({"error":{"code":"unavailable","message":"store unavailable: connection refused"}})");
  EXPECT_EQ(ErrorToHttp(model::InvalidFieldsError("invalid job", {{"name", "is required"}})).body,
            R"({"error":{"code":"invalid_argument","message":"invalid job: name: is required",)"
            R"("fields":[{"field":"name","message":"is required"}]}})");
  EXPECT_EQ(ErrorBody("payload_too_large", "too big"),
            R"({"error":{"code":"payload_too_large","message":"too big"}})");
}

}  // namespace
}  // namespace hg::api
