// How ApiServer serves connections (http/server.h): concurrency bounded by work, not by open
// keep-alive connections; pipelining in order; limits and timeouts; Stop() with idle clients.
// Raw sockets (tests/api/raw_http.h), since ordinary clients hide exactly these things.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "api/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/json.h"
#include "tests/api/api_test_util.h"
#include "tests/api/raw_http.h"

namespace hg::api {
namespace {

using ::testing::HasSubstr;
using testing::RawConnection;
using ::testing::StartsWith;

constexpr char kGetHealth[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

class ServingTest : public testing::ServiceFixture {
 protected:
  void Start(ApiServer::Options options = {}) {
    server_ = std::make_unique<ApiServer>(service_, std::move(options));
    server_->Handle("GET", R"(/echo/(\d+))", auth::Access::kOpen,
                    [](const http::Request& req, http::Response& res) {
                      res.SetContent(req.matches[1], "text/plain");
                    });
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  static std::string ErrorCode(const testing::RawResponse& r) {
    auto json = model::ParseJson(r.body);
    return json.ok() && json->contains("code") ? (*json)["code"].get<std::string>() : r.body;
  }
  std::unique_ptr<ApiServer> server_;
};

// cpp-httplib gave each keep-alive connection a pool thread for its lifetime: the 9th client
// waited for someone's keep-alive to expire (issue 15).
TEST_F(ServingTest, ManyOpenKeepAliveConnectionsDoNotStarveAnotherClient) {
  ApiServer::Options options;
  options.threads = 4;
  Start(options);
  constexpr int kIdle = 64;
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(idle.back()->connected());
    ASSERT_TRUE(idle.back()->Send(kGetHealth));
  }
  for (auto& c : idle) {
    auto r = c->Read();
    ASSERT_TRUE(r) << "an open keep-alive connection was not answered";
    EXPECT_EQ(r->status, 200);
  }
  // All 64 stay open and idle; one more client is answered...
  RawConnection other(server_->port());
  ASSERT_TRUE(other.Send("GET /echo/65 HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = other.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "65");
  // ...and none of the 64 was dropped to make room: each answers again on its connection.
  for (int i = 0; i < kIdle; ++i) {
    ASSERT_TRUE(idle[i]->Send(absl::StrCat("GET /echo/", i, " HTTP/1.1\r\nHost: x\r\n\r\n")));
  }
  for (int i = 0; i < kIdle; ++i) {
    auto again = idle[i]->Read();
    ASSERT_TRUE(again) << "connection " << i << " was closed";
    EXPECT_EQ(again->body, absl::StrCat(i));
  }
}

TEST_F(ServingTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  RawConnection c(server_->port());
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&batch, i % 5 == 4
                                ? "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                                : absl::StrCat("GET /echo/", i, " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  ASSERT_TRUE(c.Send(batch));
  for (int i = 0; i < 20; ++i) {
    auto r = c.Read();
    ASSERT_TRUE(r) << i;
    if (i % 5 == 4) {
      EXPECT_EQ(r->status, 404) << i;
    } else {
      EXPECT_EQ(r->body, absl::StrCat(i));
    }
  }
}

TEST_F(ServingTest, LimitsAreClear4xxInTheApiErrorShape) {
  ApiServer::Options options;
  options.max_body_bytes = 1000;
  Start(options);
  {  // A declared body over the limit: 413 before it is read.
    RawConnection c(server_->port());
    ASSERT_TRUE(
        c.Send("POST /jobs/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: 5000\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(ErrorCode(*r), "payload_too_large");
  }
  {  // A chunked body that grows over the limit.
    RawConnection c(server_->port());
    ASSERT_TRUE(c.Send("POST /jobs/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       std::string("7d0\r\n") + std::string(2000, 'x') + "\r\n0\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  {  // Headers over the limit (16 KiB by default).
    RawConnection c(server_->port());
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') +
                       "\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_EQ(ErrorCode(*r), "header_too_large");
  }
  {  // A request line longer than any header budget: 414.
    RawConnection c(server_->port());
    ASSERT_TRUE(c.Send("GET /" + std::string(40000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 414);
    EXPECT_EQ(ErrorCode(*r), "uri_too_long");
  }
  {  // Not HTTP at all.
    RawConnection c(server_->port());
    ASSERT_TRUE(c.Send("HELLO THERE\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(ErrorCode(*r), "bad_request");
    EXPECT_TRUE(c.WaitClosed());
  }
}

TEST_F(ServingTest, ExpectContinueHeadAndBodylessWrites) {
  Start();
  RawConnection c(server_->port());
  const std::string job =
      R"({"name":"cont","cron_expr":"0 0 * * * *","executor_type":"shell","executor":{"command":"true"}})";
  ASSERT_TRUE(
      c.Send(absl::StrCat("POST /jobs/ HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          "application/json\r\nExpect: 100-continue\r\nContent-Length: ",
                          job.size(), "\r\n\r\n")));
  auto cont = c.Read();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c.Send(job));
  auto created = c.Read();
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201) << created->body;
  ASSERT_TRUE(c.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = c.Read(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_THAT(head->head, HasSubstr("Content-Length: 15"));
  // The same connection still works: HEAD sent no body to skip.
  ASSERT_TRUE(c.Send("POST /jobs/cont/trigger HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto triggered = c.Read();
  ASSERT_TRUE(triggered);
  EXPECT_EQ(triggered->status, 202) << triggered->body;
}

// A slow-loris client trickling a request byte by byte is closed once read_timeout has passed
// since its first byte (a per-read timeout never fires for it).
TEST_F(ServingTest, ASlowRequestIsClosedAfterTheReadTimeout) {
  ApiServer::Options options;
  options.read_timeout = absl::Milliseconds(300);
  Start(options);
  RawConnection c(server_->port());
  const std::string request =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(2000, 'a') + "\r\n\r\n";
  bool closed = false;
  for (size_t i = 0; i < request.size() && !closed; ++i) {
    closed = !c.Send(request.substr(i, 1)) || c.ClosedWithin(20);
  }
  EXPECT_TRUE(closed) << "the whole trickled request was read";
}

TEST_F(ServingTest, AnIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  ApiServer::Options options;
  options.idle_timeout = absl::Milliseconds(200);
  Start(options);
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(kGetHealth));
  ASSERT_TRUE(c.Read());
  EXPECT_TRUE(c.WaitClosed());
}

// /healthz needs no store: it is answered even while every handler thread waits (here on a
// route that blocks; in life on a hung store).
TEST_F(ServingTest, HealthzIsAnsweredWhileEveryHandlerThreadIsBusy) {
  ApiServer::Options options;
  options.threads = 2;
  Start(options);
  absl::Notification release;
  // Routes are added before Start() in life; this server is not serving /block yet, so use a
  // second server with the blocking route.
  ApiServer blocking(service_, options);
  blocking.Handle("GET", "/block", auth::Access::kOpen,
                  [&release](const http::Request&, http::Response& res) {
                    release.WaitForNotification();
                    res.SetContent("done", "text/plain");
                  });
  ASSERT_TRUE(blocking.Start("127.0.0.1:0").ok());
  std::vector<std::unique_ptr<RawConnection>> blocked;
  for (int i = 0; i < 2; ++i) {
    blocked.push_back(std::make_unique<RawConnection>(blocking.port()));
    ASSERT_TRUE(blocked.back()->Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  RawConnection health(blocking.port());
  ASSERT_TRUE(health.Send(kGetHealth));
  auto r = health.Read();
  ASSERT_TRUE(r) << "/healthz waited for a handler thread";
  EXPECT_EQ(r->status, 200);
  release.Notify();
  for (auto& c : blocked) {
    auto done = c->Read();
    ASSERT_TRUE(done);
    EXPECT_EQ(done->body, "done");
  }
  blocking.Stop();
}

TEST_F(ServingTest, StopClosesIdleConnectionsAndReturns) {
  ApiServer::Options options;
  options.idle_timeout = absl::Hours(1);
  options.write_timeout = absl::Hours(1);  // Stop() must not need to wait for either
  Start(options);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 16; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(idle.back()->Send(kGetHealth));
    ASSERT_TRUE(idle.back()->Read());
  }
  RawConnection fresh(server_->port());  // connected, never sent anything
  server_->Stop();
  for (auto& c : idle) EXPECT_TRUE(c->WaitClosed());
  EXPECT_TRUE(fresh.WaitClosed());
  RawConnection after(server_->port());
  EXPECT_FALSE(after.connected() && after.Send(kGetHealth) && after.Read());
}

}  // namespace
}  // namespace hg::api
