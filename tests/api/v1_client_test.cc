// A v1 client against a real `hourglass dev`: the requests the original v1 web UI sends from its
// own dev server (axios, cross-origin, so every call is preceded by a CORS preflight) and the
// documented v1 scripts, asserting the status codes and the fields that UI reads
// (docs/design/api.md "v1 compatibility").
#include <httplib.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "model/json.h"
#include "tests/model/v1_examples.h"
#include "tests/telemetry/app_harness.h"

namespace hg::api {
namespace {

using model::Json;
using telemetry::testing::ChildProcess;
using telemetry::testing::Eventually;
using telemetry::testing::FreePort;
using telemetry::testing::HourglassBinary;
using telemetry::testing::MakeTempDir;

constexpr char kUiOrigin[] = "http://localhost:3000";  // the original UI's dev server
constexpr char kJsonType[] = "application/json";

class V1ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("hg-v1-client");
    port_ = FreePort();
    auto p = ChildProcess::Start(
        {HourglassBinary(), "dev", "--http", "127.0.0.1:" + std::to_string(port_), "--data",
         dir_ + "/data", "--cors-origin", kUiOrigin, "--log-level", "warn"},
        dir_ + "/dev.log");
    ASSERT_TRUE(p.ok()) << p.status();
    dev_ = *std::move(p);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(10, 0);
    ASSERT_TRUE(Eventually([&] {
      auto r = client_->Get("/healthz");
      return r && r->status == 200;
    })) << dev_->LogTail();
  }
  void TearDown() override {
    client_.reset();
    dev_.reset();
    std::filesystem::remove_all(dir_);
  }

  // What the browser sends before a cross-origin call with a JSON body.
  void ExpectPreflightAllowed(const std::string& path, const std::string& method) {
    auto r = client_->Options(path.c_str(), {{"Origin", kUiOrigin},
                                             {"Access-Control-Request-Method", method},
                                             {"Access-Control-Request-Headers", "content-type"}});
    ASSERT_TRUE(r) << path;
    EXPECT_TRUE(r->status == 200 || r->status == 204) << path << " " << r->status;
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kUiOrigin) << path;
    EXPECT_NE(r->get_header_value("Access-Control-Allow-Methods").find(method), std::string::npos)
        << path;
    EXPECT_NE(r->get_header_value("Access-Control-Allow-Headers").find("Content-Type"),
              std::string::npos);
  }
  // The call itself, as axios makes it from the UI's origin; the browser hands the body to the
  // UI only when Access-Control-Allow-Origin names that origin.
  Json Call(const std::string& method, const std::string& path, int expected_status,
            const std::string& body = "") {
    httplib::Headers h = {{"Origin", kUiOrigin}};
    httplib::Result r = method == "GET"      ? client_->Get(path.c_str(), h)
                        : method == "DELETE" ? client_->Delete(path.c_str(), h)
                                             : client_->Post(path.c_str(), h, body, kJsonType);
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return Json();
    EXPECT_EQ(r->status, expected_status) << method << " " << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kUiOrigin);
    if (r->body.empty()) return Json();
    auto json = model::ParseJson(r->body);
    EXPECT_TRUE(json.ok()) << r->body;
    return json.ok() ? *json : Json();
  }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> dev_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(V1ClientTest, TheOriginalUiAndScriptsWorkUnchanged) {
  // The UI's job list.
  ExpectPreflightAllowed("/jobs/", "GET");
  Json jobs = Call("GET", "/jobs/", 200);
  ASSERT_TRUE(jobs.is_array());
  EXPECT_TRUE(jobs.empty());

  // Create: the documented shell job (Forbid, retries) and HTTP job, verbatim.
  ExpectPreflightAllowed("/jobs/", "POST");
  Json shell = Call("POST", "/jobs/", 201, hg::testing::kV1ShellJob);
  EXPECT_EQ(shell["name"], "my-first-shell-job");
  EXPECT_EQ(shell["cron_expr"], "*/10 * * * * *");
  EXPECT_EQ(shell["executor_type"], "shell");
  EXPECT_TRUE(shell["executor"]["command"].is_string());
  EXPECT_EQ(shell["concurrency_policy"], "Forbid");
  EXPECT_EQ(shell["retry_policy"]["max_retries"], 3);
  EXPECT_EQ(shell["retry_policy"]["backoff"], "5s");
  for (const char* f : {"id", "created_at", "updated_at"}) EXPECT_TRUE(shell[f].is_string()) << f;
  Json http = Call("POST", "/jobs/", 201, hg::testing::kV1HttpJob);
  EXPECT_EQ(http["executor"]["url"], "https://httpbin.org/get");
  EXPECT_EQ(http["executor"]["method"], "GET");

  // A v1 user's job with a non-ASCII name, every second, so history fills quickly.
  const std::string name = "备份 job";
  const std::string path = "/jobs/%E5%A4%87%E4%BB%BD%20job";
  Json mine =
      Call("POST", "/jobs/", 201,
           model::DumpJson(Json{{"name", name},
                                {"cron_expr", "* * * * * *"},
                                {"executor_type", "shell"},
                                {"executor", {{"command", "echo hi"}}},
                                {"concurrency_policy", "Forbid"},
                                {"retry_policy", {{"max_retries", 1}, {"backoff", "1s"}}}}));
  EXPECT_EQ(mine["name"], name);
  EXPECT_EQ(Call("GET", "/jobs/", 200).size(), 3u);
  EXPECT_EQ(Call("GET", path, 200)["name"], name);

  // A validation error: the UI shows details.join(', ') or "Error: " + error.
  Json invalid = Call("POST", "/jobs/", 400,
                      R"({"name":"bad","cron_expr":"not cron","executor_type":"shell",)"
                      R"("executor":{"command":"true"}})");
  ASSERT_TRUE(invalid["error"].is_string()) << invalid.dump();
  ASSERT_TRUE(invalid["details"].is_array() && !invalid["details"].empty()) << invalid.dump();
  for (const auto& d : invalid["details"]) EXPECT_TRUE(d.is_string()) << invalid.dump();
  EXPECT_EQ(Call("GET", "/jobs/bad", 404)["error"].is_string(), true);

  // History with v1's page/pageSize, newest first, once a few runs are recorded.
  const std::string history = path + "/history";
  ASSERT_TRUE(Eventually(
      [&] {
        Json page = Call("GET", history + "?page=1&pageSize=100", 200);
        int finished = 0;
        for (const auto& e : page) finished += e["status"] == "success";
        return finished >= 3;
      },
      absl::Seconds(60)))
      << dev_->LogTail();
  // Stop new runs so the pages hold still (pause is an extension; v1 would delete).
  Call("POST", path + "/pause", 200, "");
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : Call("GET", history + "?pageSize=100", 200)) {
      if (e["status"] == "scheduled" || e["status"] == "running") return false;
    }
    return true;
  }));
  Json first = Call("GET", history + "?page=1&pageSize=2", 200);
  ASSERT_EQ(first.size(), 2u);
  Json second = Call("GET", history + "?page=2&pageSize=1", 200);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0]["id"], first[1]["id"]);
  EXPECT_GE(first[0]["start_time"].get<std::string>(), first[1]["start_time"].get<std::string>());
  for (const char* f :
       {"id", "job_name", "start_time", "end_time", "status", "output", "error", "worker_id"}) {
    EXPECT_TRUE(first[0].contains(f)) << f << " in " << first[0].dump();
  }
  EXPECT_EQ(first[0]["job_name"], name);
  EXPECT_EQ(first[0]["status"], "success");
  EXPECT_TRUE(first[0]["retries_attempted"].is_number());

  // Delete, as the UI and the documented curl do.
  ExpectPreflightAllowed(path, "DELETE");
  Call("DELETE", path, 204);
  Call("DELETE", "/jobs/my-first-shell-job", 204);
  Call("DELETE", "/jobs/my-http-job", 204);
  EXPECT_TRUE(Call("GET", "/jobs/", 200).empty());
}

TEST_F(V1ClientTest, AnOriginThatIsNotConfiguredIsRefused) {
  auto pre = client_->Options("/jobs/", {{"Origin", "http://localhost:4000"},
                                         {"Access-Control-Request-Method", "POST"},
                                         {"Access-Control-Request-Headers", "content-type"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 403);
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Origin"));
  // Even a request a browser would send without a preflight creates nothing.
  auto post = client_->Post("/jobs/", {{"Origin", "http://localhost:4000"}},
                            hg::testing::kV1ShellJob, kJsonType);
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 403);
  EXPECT_FALSE(post->has_header("Access-Control-Allow-Origin"));
  // Scripts (no Origin) are unaffected.
  auto list = client_->Get("/jobs/");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_EQ(list->body, "[]");
}

}  // namespace
}  // namespace hg::api
