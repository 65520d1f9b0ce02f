#include "executor/http_executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "tests/executor/test_http_server.h"
#include "tests/executor/waiter.h"

namespace hg::executor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

ExecRequest Http(std::string url) {
  ExecRequest r;
  r.execution_id = "exec-1";
  r.job_name = "job-a";
  r.timeout = absl::Seconds(20);  // a hung test fails instead of hanging
  r.spec = HttpSpec{.url = std::move(url)};
  return r;
}

HttpSpec& SpecOf(ExecRequest& r) { return std::get<HttpSpec>(r.spec); }

IpNet Net(std::string_view text) { return IpNet::Parse(text).value(); }

// The test servers listen on 127.0.0.1, which the default policy denies.
HttpConfig LoopbackAllowed(HttpConfig config = {}) {
  config.destinations.Allow(Net("127.0.0.1"));
  return config;
}

class HttpExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    auto e = HttpExecutor::Create(LoopbackAllowed(), clock_);
    ASSERT_TRUE(e.ok()) << e.status();
    executor_ = std::move(*e);
  }
  void TearDown() override {
    if (executor_) executor_->Stop();
  }

  FakeClock clock_;
  testing::TestHttpServer server_;
  std::unique_ptr<HttpExecutor> executor_;
};

TEST_F(HttpExecutorTest, TwoHundredIsSuccess) {
  ExecResult r = RunSync(*executor_, Http(server_.Url("/hello")));
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.output, "ok");
  EXPECT_EQ(r.output_bytes, 2u);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_EQ(r.started, clock_.Now());
}

TEST_F(HttpExecutorTest, UnexpectedStatusIsFailed) {
  ExecResult r = RunSync(*executor_, Http(server_.Url("/status/500")));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(r.error, "unexpected HTTP status 500 (expected 2xx)");
  EXPECT_EQ(r.output, "status body");
}

TEST_F(HttpExecutorTest, ExpectedStatusDecidesSuccess) {
  ExecRequest req = Http(server_.Url("/status/404"));
  SpecOf(req).expected_status = {{404, 404}, {500, 599}};
  EXPECT_EQ(RunSync(*executor_, req).status, ExecStatus::kSuccess);
  req = Http(server_.Url("/status/204"));
  SpecOf(req).expected_status = {{404, 404}, {500, 599}};
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.error, "unexpected HTTP status 204 (expected 404,5xx)");
}

TEST_F(HttpExecutorTest, TimeoutIsReportedAsTimeout) {
  ExecRequest req = Http(server_.Url("/sleep/10000"));
  req.timeout = absl::Milliseconds(200);
  const auto t0 = std::chrono::steady_clock::now();
  ExecResult r = RunSync(*executor_, req);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_EQ(r.status, ExecStatus::kTimeout);
  EXPECT_EQ(r.error, "timed out after 200ms");
}

TEST_F(HttpExecutorTest, BodyIsCappedAndCounted) {
  ExecRequest req = Http(server_.Url("/bytes/100000"));
  req.output_cap = 1024;
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output_bytes, 100000u);
  EXPECT_EQ(r.output, std::string(1024, 'a') +
                          "\n\xE2\x80\xA6 [hourglass: 100000 bytes total, 98976 omitted] "
                          "\xE2\x80\xA6\n");
}

TEST_F(HttpExecutorTest, FollowsRedirectsUpToTheLimit) {
  ExecResult ok = RunSync(*executor_, Http(server_.Url("/redirect/5")));
  EXPECT_EQ(ok.status, ExecStatus::kSuccess) << ok.error;
  EXPECT_EQ(ok.output, "done");
  ExecResult over = RunSync(*executor_, Http(server_.Url("/redirect/6")));
  EXPECT_EQ(over.status, ExecStatus::kFailed);
  EXPECT_EQ(over.error, "Maximum (5) redirects followed");
}

TEST_F(HttpExecutorTest, ZeroRedirectsJudgesTheRedirectItself) {
  ExecRequest req = Http(server_.Url("/redirect/1"));
  SpecOf(req).max_redirects = 0;
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.http_status, 302);
  EXPECT_EQ(r.error, "unexpected HTTP status 302 (expected 2xx)");
  SpecOf(req).expected_status = {{300, 399}};
  EXPECT_EQ(RunSync(*executor_, req).status, ExecStatus::kSuccess);
}

TEST_F(HttpExecutorTest, SendsMethodHeadersBodyAndTraceparent) {
  ExecRequest req = Http(server_.Url("/echo"));
  req.traceparent = kTraceparent;
  SpecOf(req).method = "PUT";
  SpecOf(req).headers = {
      {"X-Custom", "v1"}, {"traceparent", "from-the-spec"}, {"Content-Type", "application/json"}};
  SpecOf(req).body = R"({"a":1})";
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_THAT(r.output, StartsWith("PUT\n"));
  EXPECT_THAT(r.output, HasSubstr("\nX-Custom: v1\n"));
  EXPECT_THAT(r.output, HasSubstr("\nContent-Type: application/json\n"));
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("\ntraceparent: ", kTraceparent, "\n")));
  EXPECT_THAT(r.output, Not(HasSubstr("from-the-spec")));
  EXPECT_THAT(r.output, HasSubstr("\nUser-Agent: hourglass\n"));
  EXPECT_THAT(r.output, ::testing::EndsWith("\n\n{\"a\":1}"));
}

TEST_F(HttpExecutorTest, PostWithoutTraceparentKeepsTheSpecHeader) {
  ExecRequest req = Http(server_.Url("/echo"));
  SpecOf(req).method = "POST";
  SpecOf(req).headers = {{"traceparent", "from-the-spec"}};
  SpecOf(req).body = "payload";
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_THAT(r.output, StartsWith("POST\n"));
  EXPECT_THAT(r.output, HasSubstr("\ntraceparent: from-the-spec\n"));
  EXPECT_THAT(r.output, ::testing::EndsWith("\n\npayload"));
}

TEST_F(HttpExecutorTest, HeadReadsNoBody) {
  ExecRequest req = Http(server_.Url("/hello"));
  SpecOf(req).method = "HEAD";
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.output, "");
}

TEST_F(HttpExecutorTest, ConnectionRefusedFailsWithCurlMessage) {
  // A port that was free a moment ago and has no listener now.
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  close(s);
  ExecResult r = RunSync(*executor_, Http(absl::StrCat("http://127.0.0.1:", port, "/")));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_FALSE(r.http_status.has_value());
  EXPECT_THAT(r.error, StartsWith(absl::StrCat("Failed to connect to 127.0.0.1 port ", port)));
  EXPECT_THAT(r.error, HasSubstr("Couldn't connect to server"));
}

TEST_F(HttpExecutorTest, UnresolvableHostFailsClearly) {
  ExecResult r = RunSync(*executor_, Http("http://nonexistent.invalid/"));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.error, "Could not resolve host: nonexistent.invalid");
}

TEST_F(HttpExecutorTest, KillAbortsTheTransfer) {
  Waiter waiter;
  const auto t0 = std::chrono::steady_clock::now();
  auto handle = executor_->Start(Http(server_.Url("/sleep/10000")), waiter.Callback());
  EXPECT_FALSE(waiter.Wait(absl::Milliseconds(100)).has_value());
  handle->Kill("replaced");
  auto r = waiter.Wait();
  ASSERT_TRUE(r.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_EQ(r->status, ExecStatus::kKilled);
  EXPECT_EQ(r->error, "killed: replaced");
  handle->Kill("again");
  executor_->Stop();
  EXPECT_EQ(waiter.calls(), 1);
}

TEST_F(HttpExecutorTest, ConcurrentRequestsShareOneThread) {
  // 5 requests of 400 ms each: 2 s one after the other, about 0.4 s when they overlap. (Not
  // more: Debian's cpp-httplib listens with a backlog of 5, and a dropped SYN costs 1 s.)
  constexpr int kRuns = 5;
  std::vector<Waiter> waiters(kRuns);
  std::vector<std::unique_ptr<RunHandle>> handles;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    handles.push_back(executor_->Start(Http(server_.Url("/sleep/400")), waiters[i].Callback()));
  }
  for (auto& w : waiters) {
    auto r = w.Wait();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, ExecStatus::kSuccess) << r->error;
    EXPECT_EQ(r->output, "slept");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
}

TEST_F(HttpExecutorTest, StopKillsInFlightRequests) {
  Waiter waiter;
  auto handle = executor_->Start(Http(server_.Url("/sleep/10000")), waiter.Callback());
  executor_->Stop();
  ASSERT_TRUE(waiter.Done());
  EXPECT_EQ(waiter.Wait()->status, ExecStatus::kKilled);
  EXPECT_EQ(waiter.Wait()->error, "killed: executor stopped");
  Waiter late;
  executor_->Start(Http(server_.Url("/hello")), late.Callback());
  ASSERT_TRUE(late.Done());
  EXPECT_EQ(late.Wait()->error, "executor stopped");
}

TEST_F(HttpExecutorTest, RefusesBadRequestsBeforeSending) {
  ExecRequest req = Http("file:///etc/passwd");
  EXPECT_EQ(RunSync(*executor_, req).error,
            "unsupported URL 'file:///etc/passwd': only http:// and https:// are allowed");
  req = Http(server_.Url("/echo"));
  SpecOf(req).headers = {{"X-Injected", "a\r\nEvil: yes"}};
  EXPECT_EQ(RunSync(*executor_, req).error, "invalid value for HTTP header 'X-Injected'");
  req = Http(server_.Url("/echo"));
  SpecOf(req).method = "GET /x";
  EXPECT_EQ(RunSync(*executor_, req).error, "invalid HTTP method 'GET /x'");
  ExecRequest shell;
  shell.spec = ShellSpec{.command = "true"};
  EXPECT_EQ(RunSync(*executor_, shell).error, "the HTTP executor cannot run a shell job");
}

TEST_F(HttpExecutorTest, RedirectToAnotherSchemeIsRefused) {
  // Only http/https are followed, whatever the server says.
  ExecResult r = RunSync(*executor_, Http(server_.Url("/goto?url=file:///etc/passwd")));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_THAT(r.error, HasSubstr("file"));
  EXPECT_THAT(r.output, Not(HasSubstr("root:")));
}

// Server-side request forgery: the default policy, checked on the address actually connected to.
class DestinationPolicyTest : public HttpExecutorTest {
 protected:
  ExecResult RunWith(HttpConfig config, const std::string& url) {
    auto e = HttpExecutor::Create(std::move(config), clock_);
    EXPECT_TRUE(e.ok());
    ExecRequest req = Http(url);
    req.timeout = absl::Seconds(5);  // a denied address must be refused, not tried
    return RunSync(**e, req);
  }
};

TEST_F(DestinationPolicyTest, LoopbackIsRefusedByDefault) {
  ExecResult r = RunWith({}, server_.Url("/hello"));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.cause, ExecCause::kRefused);
  EXPECT_THAT(r.error, HasSubstr("destination 127.0.0.1 (loopback) refused"));
  EXPECT_FALSE(r.http_status.has_value());
  EXPECT_EQ(r.output, "");
}

TEST_F(DestinationPolicyTest, HostNameResolvingToLoopbackIsRefused) {
  for (const std::string host : {"localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"}) {
    ExecResult r = RunWith({}, absl::StrCat("http://", host, ":", server_.port(), "/hello"));
    EXPECT_EQ(r.cause, ExecCause::kRefused) << host << ": " << r.error;
    EXPECT_THAT(r.error, HasSubstr("refused by the worker's HTTP destination policy")) << host;
  }
}

TEST_F(DestinationPolicyTest, MetadataAddressIsRefusedWithoutConnecting) {
  const auto t0 = std::chrono::steady_clock::now();
  ExecResult r = RunWith({}, "http://169.254.169.254/latest/meta-data/");
  EXPECT_EQ(r.cause, ExecCause::kRefused);
  EXPECT_THAT(r.error, HasSubstr("destination 169.254.169.254 (cloud metadata) refused"));
  r = RunWith({}, "http://[fd00:ec2::254]/latest/meta-data/");
  EXPECT_THAT(r.error, HasSubstr("destination fd00:ec2::254 (cloud metadata) refused"));
  r = RunWith({}, "http://169.254.1.1/");
  EXPECT_THAT(r.error, HasSubstr("destination 169.254.1.1 (link-local) refused"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST_F(DestinationPolicyTest, RedirectToADeniedAddressIsRefused) {
  // 127.0.0.1 is allowed, 127.0.0.2 (the same loopback interface) is not: the redirect's
  // connection is judged on its own.
  const std::string target = absl::StrCat("http://127.0.0.2:", server_.port(), "/hello");
  ExecResult r = RunWith(LoopbackAllowed(), server_.Url("/goto?url=" + target));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.cause, ExecCause::kRefused);
  EXPECT_THAT(r.error, HasSubstr("destination 127.0.0.2 (loopback) refused"));
  EXPECT_THAT(r.output, Not(HasSubstr("ok")));
  // Allow-listed, the same redirect is tried (and finds no listener: the server is on 127.0.0.1).
  HttpConfig wide;
  wide.destinations.Allow(Net("127.0.0.0/8"));
  r = RunWith(wide, server_.Url("/goto?url=" + target));
  EXPECT_EQ(r.cause, ExecCause::kNone);
  EXPECT_THAT(r.error, HasSubstr("Failed to connect to 127.0.0.2"));
}

TEST_F(DestinationPolicyTest, DenyAddsNetworks) {
  HttpConfig config = LoopbackAllowed();
  config.destinations.Deny(Net("10.0.0.0/8"));
  ExecResult r = RunWith(config, "http://10.255.255.1/");
  EXPECT_EQ(r.cause, ExecCause::kRefused);
  EXPECT_THAT(r.error, HasSubstr("10.255.255.1 (denied by --http-deny 10.0.0.0/8)"));
}

TEST(IpNetTest, ParsesAndMatches) {
  EXPECT_EQ(Net("10.0.0.0/8").ToString(), "10.0.0.0/8");
  EXPECT_EQ(Net("127.0.0.1").ToString(), "127.0.0.1/32");
  EXPECT_EQ(Net("fe80::/10").ToString(), "fe80::/10");
  EXPECT_TRUE(Net("10.0.0.0/8").Contains(Net("10.1.2.3").addr));
  EXPECT_FALSE(Net("10.0.0.0/8").Contains(Net("11.0.0.0").addr));
  EXPECT_TRUE(Net("fe80::/10").Contains(Net("febf::1").addr));
  EXPECT_FALSE(Net("fe80::/10").Contains(Net("fec0::1").addr));
  EXPECT_TRUE(Net("0.0.0.0/0").Contains(Net("8.8.8.8").addr));
  EXPECT_EQ(IpNet::Parse("10.0.0.1/8").status().message(),
            "'10.0.0.1/8' has bits set past its prefix");
  EXPECT_EQ(IpNet::Parse("10.0.0.0/33").status().message(),
            "'10.0.0.0/33' has a bad prefix length (0-32)");
  EXPECT_EQ(IpNet::Parse("example.com").status().message(),
            "'example.com' is not an IP address or CIDR network");
  EXPECT_FALSE(IpNet::Parse("10.0.0.0/").ok());
  auto list = ParseIpNetList("127.0.0.0/8, ::1", "--http-allow");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(ParseIpNetList("127.0.0.0/8,nope", "--http-allow").status().message(),
            "--http-allow: 'nope' is not an IP address or CIDR network");
}

TEST(DestinationPolicyDefaults, DenyLocalAllowPrivateAndPublic) {
  const DestinationPolicy p;
  for (const char* denied :
       {"127.0.0.1", "127.9.9.9", "::1", "169.254.169.254", "169.254.0.1", "fe80::1",
        "fd00:ec2::254", "0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254"}) {
    EXPECT_TRUE(p.Check(Net(denied).addr).has_value()) << denied;
  }
  for (const char* allowed : {"10.0.0.1", "192.168.1.1", "172.16.0.1", "fd12::1", "8.8.8.8",
                              "2001:db8::1", "128.0.0.1"}) {
    EXPECT_FALSE(p.Check(Net(allowed).addr).has_value()) << allowed;
  }
  DestinationPolicy open;
  open.Allow(Net("169.254.0.0/16"));
  EXPECT_FALSE(open.Check(Net("169.254.169.254").addr).has_value());
}

class HttpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "/hg-executor-tls");
    const std::string cmd =
        absl::StrCat("mkdir -p ", *dir_,
                     " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
                     "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout ",
                     *dir_, "/key.pem -out ", *dir_, "/cert.pem >/dev/null 2>&1");
    ok_ = std::system(cmd.c_str()) == 0;
  }
  static inline std::string* dir_ = nullptr;
  static inline bool ok_ = false;
};

TEST_F(HttpsTest, VerifiesCertificatesUnlessTurnedOff) {
  ASSERT_TRUE(ok_) << "openssl could not create a test certificate";
  testing::TestHttpServer server(*dir_ + "/cert.pem", *dir_ + "/key.pem");
  ASSERT_TRUE(server.ok());
  FakeClock clock;
  auto e = HttpExecutor::Create(LoopbackAllowed(), clock);
  ASSERT_TRUE(e.ok());
  ExecResult r = RunSync(**e, Http(server.Url("/hello")));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_THAT(r.error, HasSubstr("self-signed certificate"));

  ExecRequest insecure = Http(server.Url("/hello"));
  SpecOf(insecure).tls_verify = false;
  r = RunSync(**e, insecure);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output, "ok");

  auto trusting = HttpExecutor::Create(LoopbackAllowed({.ca_file = *dir_ + "/cert.pem"}), clock);
  ASSERT_TRUE(trusting.ok());
  r = RunSync(**trusting, Http(server.Url("/hello")));
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
}

}  // namespace
}  // namespace hg::executor
