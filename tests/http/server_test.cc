// http::Server on its own: the handler sees the parsed request, errors use the default
// renderer, exceptions become 500, a handler's slowness holds only its own connection.
#include "http/server.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api/raw_http.h"

namespace hg::http {
namespace {

using api::testing::RawConnection;
using ::testing::HasSubstr;

TEST(HttpServerTest, HandlerSeesTheParsedRequest) {
  Request seen;
  Server server({}, [&seen](Request& req, Response& res) {
    seen = req;
    res.SetContent("ok", "text/plain");
  });
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  RawConnection c(server.port());
  ASSERT_TRUE(
      c.Send("PUT /a%20b/c?x=1&x=2&y=a%3Db HTTP/1.1\r\nHost: h\r\nX-Thing: v\r\n"
             "Content-Length: 3\r\n\r\nabc"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.target, "/a%20b/c?x=1&x=2&y=a%3Db");
  EXPECT_EQ(seen.path, "/a b/c");
  EXPECT_EQ(seen.raw_query, "x=1&x=2&y=a%3Db");
  EXPECT_THAT(seen.Params("x"), ::testing::ElementsAre("1", "2"));
  EXPECT_EQ(seen.Param("y"), "a=b");
  EXPECT_EQ(seen.Header("x-thing"), "v");
  EXPECT_EQ(seen.body, "abc");
  EXPECT_EQ(seen.remote_addr, "127.0.0.1");
}

TEST(HttpServerTest, ExceptionsAndDefaultErrors) {
  Server server({}, [](Request&, Response&) { throw std::runtime_error("boom"); });
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  RawConnection c(server.port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  RawConnection bad(server.port());
  ASSERT_TRUE(bad.Send("GET / HTTP/9\r\n\r\n"));
  auto b = bad.Read();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 400);
  EXPECT_THAT(b->body, HasSubstr("malformed request"));
}

// With one handler thread busy on a slow request, other connections wait for work, not for
// that connection: they are answered as soon as the handler returns.
TEST(HttpServerTest, ASlowHandlerHoldsOnlyItsOwnConnection) {
  absl::Notification release;
  std::atomic<int> served{0};
  Server::Options options;
  options.threads = 2;
  Server server(options, [&](Request& req, Response& res) {
    if (req.path == "/slow") release.WaitForNotification();
    ++served;
    res.SetContent(req.path, "text/plain");
  });
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  RawConnection slow(server.port());
  ASSERT_TRUE(slow.Send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"));
  for (int i = 0; i < 20; ++i) {
    RawConnection c(server.port());
    ASSERT_TRUE(c.Send("GET /fast HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "/fast");
  }
  release.Notify();
  auto r = slow.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/slow");
  EXPECT_EQ(served.load(), 21);
}

// What runs_inline accepts is answered on the I/O thread, even when every handler thread is
// busy (e.g. health checks while the store hangs).
TEST(HttpServerTest, InlineRequestsAreAnsweredWhileThePoolIsBusy) {
  absl::Notification release;
  Server::Options options;
  options.threads = 1;
  options.runs_inline = [](const Request& req) { return req.path == "/health"; };
  Server server(options, [&](Request& req, Response& res) {
    if (req.path == "/slow") release.WaitForNotification();
    res.SetContent(req.path, "text/plain");
  });
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  RawConnection slow(server.port());
  ASSERT_TRUE(slow.Send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"));
  RawConnection health(server.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(health.Send("GET /health HTTP/1.1\r\nHost: h\r\n\r\n"));
    auto r = health.Read();
    ASSERT_TRUE(r) << "an inline request waited for the busy pool";
    EXPECT_EQ(r->body, "/health");
  }
  release.Notify();
  auto r = slow.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/slow");
}

TEST(HttpServerTest, StartErrors) {
  Server server({}, [](Request&, Response&) {});
  EXPECT_EQ(server.Start("nonsense").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.Start("127.0.0.1:99999").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_EQ(server.Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
  Server other({}, [](Request&, Response&) {});
  EXPECT_EQ(other.Start("127.0.0.1:" + std::to_string(server.port())).code(),
            absl::StatusCode::kUnavailable);
  server.Stop();
  server.Stop();  // idempotent
}

}  // namespace
}  // namespace hg::http
