// The HTTP contract: a real ApiServer on port 0 over SqliteKv, driven with httplib::Client.
#include "api/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/json.h"
#include "tests/api/api_test_util.h"
#include "tests/api/raw_http.h"
#include "tests/fixtures/flaky_kv.h"
#include "tests/model/v1_examples.h"

namespace hg::api {
namespace {

using model::Json;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

using ::hg::testing::kV1HttpJob;
using ::hg::testing::kV1ShellJob;
using testing::RawRequest;
constexpr char kJsonType[] = "application/json";

class ServerTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServer>(flaky_service_, ApiServer::Options{});
    server_->Handle(
        "GET", "/extra", auth::Access::kOpen,
        [](const http::Request&, http::Response& res) { res.SetContent("extra", "text/plain"); });
    server_->Handle("GET", "/boom", auth::Access::kOpen, [](const http::Request&, http::Response&) {
      throw std::runtime_error("boom");
    });
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }
  void TearDown() override { server_->Stop(); }

  static Json Body(const httplib::Result& r) {
    auto json = model::ParseJson(r->body);
    EXPECT_TRUE(json.ok()) << r->body;
    return json.ok() ? *json : Json();
  }
  httplib::Result Post(const std::string& path, const std::string& body,
                       const char* type = kJsonType) {
    return client_->Post(path.c_str(), body, type);
  }
  // Expects an error response with `status` and `code`; returns its body.
  static Json ExpectError(const httplib::Result& r, int status, const std::string& code) {
    EXPECT_TRUE(r) << "no response";
    if (!r) return Json();
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), kJsonType);
    Json body = Body(r);
    EXPECT_EQ(body["code"], code) << r->body;
    EXPECT_TRUE(body["error"].is_string());
    // v1 clients show details.join(', ') (or "Error: " + error): a non-empty list of strings.
    EXPECT_TRUE(body["details"].is_array() && !body["details"].empty()) << r->body;
    for (const auto& d : body["details"]) EXPECT_TRUE(d.is_string()) << r->body;
    return body;
  }

  worker::testing::FlakyKv flaky_{*kv_};
  JobService flaky_service_{flaky_, clock_};
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServerTest, V1CreateShellJob) {
  auto r = Post("/jobs/", kV1ShellJob);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), kJsonType);
  Json job = Body(r);
  EXPECT_EQ(job["name"], "my-first-shell-job");
  EXPECT_EQ(job["cron_expr"], "*/10 * * * * *");
  EXPECT_EQ(job["executor_type"], "shell");
  EXPECT_EQ(job["executor"]["command"], "echo Hello from a distributed cron job on $(date)");
  EXPECT_EQ(job["concurrency_policy"], "Forbid");
  EXPECT_EQ(job["retry_policy"]["max_retries"], 3);
  EXPECT_EQ(job["retry_policy"]["backoff"], "5s");
  EXPECT_TRUE(job["id"].is_string());
  EXPECT_EQ(job["created_at"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(job["updated_at"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(job["next_run"], "2026-01-01T00:00:10Z");
  EXPECT_EQ(job["last_execution"], nullptr);
  // Upsert again: still 201 (v1), same id.
  auto again = Post("/jobs/", kV1ShellJob);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 201);
  EXPECT_EQ(Body(again)["id"], job["id"]);
}

TEST_F(ServerTest, V1CreateHttpJobAndListAndDeleteAndHistory) {
  ASSERT_EQ(Post("/jobs/", kV1ShellJob)->status, 201);
  auto r = Post("/jobs/", kV1HttpJob);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(Body(r)["executor"]["url"], "https://httpbin.org/get");
  EXPECT_EQ(Body(r)["executor"]["method"], "GET");

  // curl http://localhost:8080/jobs/
  auto list = client_->Get("/jobs/");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  Json jobs = Body(list);
  ASSERT_TRUE(jobs.is_array());
  ASSERT_THAT(jobs, SizeIs(2));
  EXPECT_EQ(jobs[0]["name"], "my-first-shell-job");
  EXPECT_EQ(jobs[1]["name"], "my-http-job");
  EXPECT_FALSE(list->has_header("X-Next-Cursor"));

  // curl http://localhost:8080/jobs/my-first-shell-job/history
  PutExecution("my-first-shell-job", clock_.Now() - absl::Seconds(20),
               model::ExecutionStatus::kSuccess);
  auto newest = PutExecution("my-first-shell-job", clock_.Now() - absl::Seconds(10),
                             model::ExecutionStatus::kFailed);
  auto history = client_->Get("/jobs/my-first-shell-job/history");
  ASSERT_TRUE(history);
  EXPECT_EQ(history->status, 200);
  Json records = Body(history);
  ASSERT_TRUE(records.is_array());
  ASSERT_THAT(records, SizeIs(2));
  EXPECT_EQ(records[0]["id"], newest.id.str());
  for (const char* field : {"id", "job_name", "start_time", "end_time", "status", "output", "error",
                            "retries_attempted", "worker_id"}) {
    EXPECT_TRUE(records[0].contains(field)) << field;
  }

  // curl -X DELETE http://localhost:8080/jobs/my-first-shell-job
  auto del = client_->Delete("/jobs/my-first-shell-job");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204);
  EXPECT_EQ(del->body, "");
  ExpectError(client_->Get("/jobs/my-first-shell-job"), 404, "not_found");
  // History is kept after a plain delete.
  EXPECT_THAT(Body(client_->Get("/jobs/my-first-shell-job/history")), SizeIs(2));
  EXPECT_EQ(client_->Delete("/jobs/my-first-shell-job?purge=true")->status, 204);
  EXPECT_THAT(Body(client_->Get("/jobs/my-first-shell-job/history")), SizeIs(0));
}

TEST_F(ServerTest, AWriteWithoutABodyOrContentLengthIsServed) {
  ASSERT_EQ(Post("/jobs/", kV1ShellJob)->status, 201);
  // What `curl -X POST http://…/jobs/NAME/trigger` sends: no body, no Content-Length.
  const std::string answer = RawRequest(
      server_->port(),
      "POST /jobs/my-first-shell-job/trigger HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 202")) << answer;
  EXPECT_THAT(answer, HasSubstr("\"trigger\":\"manual\""));
  const std::string missing = RawRequest(
      server_->port(), "POST /jobs/nope/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(missing, StartsWith("HTTP/1.1 404")) << missing;
}

TEST_F(ServerTest, JobListFiltersFromTheQuery) {
  for (const char* n : {"web-1", "web-2", "web-3", "db-1"}) {
    const std::string team = std::string(n).substr(0, 2) == "db" ? "data" : "front";
    ASSERT_EQ(Post("/jobs/", absl::StrCat(R"({"name":")", n,
                                          R"(","cron_expr":"0 0 * * * *","executor_type":"shell",)",
                                          R"("executor":{"command":"true"},"labels":{"team":")",
                                          team, R"("}})"))
                  ->status,
              201);
  }
  ASSERT_EQ(Post("/jobs/web-2/pause", "")->status, 200);
  auto r = client_->Get("/jobs/?prefix=web&label=team=front&status=active&limit=1");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Body(r).size(), 1u);
  EXPECT_EQ(Body(r)[0]["name"], "web-1");
  // The next page keeps the filters (httplib's client shows the header percent-decoded).
  EXPECT_EQ(r->get_header_value("Link"),
            "</jobs/?limit=1&cursor=web-1&prefix=web&label=team=front&status=active>; "
            "rel=\"next\"");
  auto next =
      client_->Get("/jobs/?limit=1&cursor=web-1&prefix=web&label=team%3Dfront&status=active");
  ASSERT_TRUE(next);
  EXPECT_EQ(Body(next)[0]["name"], "web-3");
  EXPECT_EQ(Body(client_->Get("/jobs/?status=paused")).size(), 1u);
  EXPECT_EQ(Body(client_->Get("/jobs/?label=team=data")).size(), 1u);
  ExpectError(client_->Get("/jobs/?label=team"), 400, "invalid_argument");
  ExpectError(client_->Get("/jobs/?status=broken"), 400, "invalid_argument");
}

TEST_F(ServerTest, AnUnsupportedMethodGets405WithAllow) {
  auto r = client_->Patch("/jobs/", "{}", kJsonType);
  Json body = ExpectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r->get_header_value("Allow"), "POST, GET");
  auto d = client_->Delete("/jobs/x/history");
  ExpectError(d, 405, "method_not_allowed");
  EXPECT_EQ(d->get_header_value("Allow"), "GET");
  ExpectError(client_->Get("/nothing/here"), 404, "not_found");
}

TEST_F(ServerTest, WithAndWithoutTrailingSlash) {
  EXPECT_EQ(Post("/jobs", kV1ShellJob)->status, 201);
  EXPECT_EQ(client_->Get("/jobs")->status, 200);
  EXPECT_EQ(client_->Get("/jobs/")->status, 200);
  EXPECT_EQ(client_->Get("/jobs/my-first-shell-job")->status, 200);
  EXPECT_EQ(client_->Get("/jobs/my-first-shell-job/")->status, 200);
  EXPECT_EQ(client_->Get("/jobs/my-first-shell-job/history/")->status, 200);
  EXPECT_EQ(Post("/jobs/my-first-shell-job/pause/", "")->status, 200);
  EXPECT_EQ(Post("/jobs/my-first-shell-job/resume", "")->status, 200);
  EXPECT_EQ(client_->Get("/cluster/")->status, 200);
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
  EXPECT_EQ(client_->Delete("/jobs/my-first-shell-job/")->status, 204);
}

TEST_F(ServerTest, ValidationErrorsArePerField) {
  Json body = ExpectError(Post("/jobs/", R"({"name":"a/b","cron_expr":"* * * * * * * *",)"
                                         R"("executor_type":"http","executor":{"url":"ftp://x"},)"
                                         R"("retry_policy":{"max_retries":11},"colour":1})"),
                          400, "invalid_argument");
  std::vector<std::string> fields;
  for (const auto& f : body["fields"]) fields.push_back(f["field"]);
  EXPECT_THAT(fields, ::testing::UnorderedElementsAre("name", "cron_expr", "executor.url",
                                                      "retry_policy.max_retries", "colour"));
  for (const auto& f : body["fields"]) {
    if (f["field"] == "colour") {
      EXPECT_EQ(f["message"], "unknown field");
    }
  }
  // One human-readable detail per problem, in the order of `fields`.
  ASSERT_THAT(body["details"], SizeIs(body["fields"].size()));
  for (size_t i = 0; i < body["fields"].size(); ++i) {
    EXPECT_EQ(body["details"][i], body["fields"][i]["field"].get<std::string>() + ": " +
                                      body["fields"][i]["message"].get<std::string>());
  }
}

TEST_F(ServerTest, InvalidJsonNamesThePosition) {
  Json body =
      ExpectError(Post("/jobs/", "{\n  \"name\": \"a\",\n  oops\n}"), 400, "invalid_argument");
  EXPECT_THAT(body["error"].get<std::string>(),
              StartsWith("invalid JSON: parse error at line 3, column 3"));
  EXPECT_FALSE(body.contains("fields"));
  ExpectError(Post("/jobs/", "[1,2]"), 400, "invalid_argument");
  ExpectError(Post("/jobs/", ""), 400, "invalid_argument");
}

TEST_F(ServerTest, BodyLimitAndMediaType) {
  const std::string huge = R"({"name":"big","description":")" + std::string(1 << 20, 'x') + "\"}";
  auto r = Post("/jobs/", huge);
  ASSERT_TRUE(r) << "no response to an oversized body";
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(model::ParseJson(r->body).value()["code"], "payload_too_large");

  ExpectError(Post("/jobs/", kV1ShellJob, "text/plain"), 415, "unsupported_media_type");
  ExpectError(Post("/jobs/", "name=x", "application/x-www-form-urlencoded"), 415,
              "unsupported_media_type");
  EXPECT_EQ(Post("/jobs/", kV1ShellJob, "application/json; charset=utf-8")->status, 201);
  EXPECT_EQ(Post("/jobs/", kV1ShellJob, "Application/JSON")->status, 201);
}

TEST_F(ServerTest, PutByName) {
  std::string body = kV1ShellJob;
  // Name in the path, none in the body.
  Json no_name = *model::ParseJson(body);
  no_name.erase("name");
  auto r = client_->Put("/jobs/from-path", model::DumpJson(no_name), kJsonType);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(Body(r)["name"], "from-path");
  // Mismatch.
  Json mismatch =
      ExpectError(client_->Put("/jobs/other", body, kJsonType), 400, "invalid_argument");
  EXPECT_EQ(mismatch["fields"][0]["field"], "name");
  EXPECT_EQ(mismatch["fields"][0]["message"], "must match the name in the URL (\"other\")");
  ExpectError(client_->Put("/jobs/bad%09name", body, kJsonType), 400, "invalid_argument");
}

TEST_F(ServerTest, GetEditPutRoundTrip) {
  ASSERT_EQ(Post("/jobs/", kV1HttpJob)->status, 201);
  PutExecution("my-http-job", clock_.Now(), model::ExecutionStatus::kRunning);
  Json job = Body(client_->Get("/jobs/my-http-job"));
  ASSERT_TRUE(job["last_execution"].is_object());
  job["description"] = "edited";
  job["executor"]["headers"]["X-Trace"] = "1";
  clock_.Advance(absl::Minutes(1));
  auto r = client_->Put("/jobs/my-http-job", model::DumpJson(job), kJsonType);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  Json updated = Body(r);
  EXPECT_EQ(updated["description"], "edited");
  EXPECT_EQ(updated["executor"]["headers"]["X-Trace"], "1");
  EXPECT_EQ(updated["id"], job["id"]);
  EXPECT_EQ(updated["created_at"], job["created_at"]);
  EXPECT_EQ(updated["updated_at"], "2026-01-01T00:01:00Z");
}

TEST_F(ServerTest, PausedSurvivesAV1Repost) {
  ASSERT_EQ(Post("/jobs/", kV1ShellJob)->status, 201);
  ASSERT_EQ(Post("/jobs/my-first-shell-job/pause", "")->status, 200);
  Json reposted = Body(Post("/jobs/", kV1ShellJob));
  EXPECT_EQ(reposted["paused"], true);
  EXPECT_EQ(reposted["next_run"], nullptr);
  Json explicit_resume = *model::ParseJson(kV1ShellJob);
  explicit_resume["paused"] = false;
  EXPECT_EQ(Body(Post("/jobs/", model::DumpJson(explicit_resume)))["paused"], false);
}

TEST_F(ServerTest, ListPaging) {
  for (const char* name : {"a", "b", "c"}) {
    Json job = *model::ParseJson(kV1ShellJob);
    job["name"] = name;
    ASSERT_EQ(Post("/jobs/", model::DumpJson(job))->status, 201);
  }
  auto first = client_->Get("/jobs/?limit=2");
  ASSERT_TRUE(first);
  EXPECT_THAT(Body(first), SizeIs(2));
  EXPECT_EQ(first->get_header_value("X-Next-Cursor"), "b");
  EXPECT_EQ(first->get_header_value("Link"), "</jobs/?limit=2&cursor=b>; rel=\"next\"");
  auto second = client_->Get("/jobs/?limit=2&cursor=b");
  Json rest = Body(second);
  ASSERT_THAT(rest, SizeIs(1));
  EXPECT_EQ(rest[0]["name"], "c");
  EXPECT_FALSE(second->has_header("X-Next-Cursor"));
  Json bad = ExpectError(client_->Get("/jobs/?limit=x"), 400, "invalid_argument");
  EXPECT_EQ(bad["fields"][0]["field"], "limit");
  ExpectError(client_->Get("/jobs/?limit=-1"), 400, "invalid_argument");
}

TEST_F(ServerTest, HistoryPagingAndFilters) {
  std::vector<std::string> newest_first;
  for (int i = 0; i < 5; ++i) {
    auto status = i % 2 ? model::ExecutionStatus::kFailed : model::ExecutionStatus::kSuccess;
    newest_first.insert(newest_first.begin(),
                        PutExecution("j", clock_.Now() + absl::Seconds(i), status).id.str());
  }
  auto page2 = client_->Get("/jobs/j/history?page=2&page_size=2");
  Json records = Body(page2);
  ASSERT_THAT(records, SizeIs(2));
  EXPECT_EQ(records[0]["id"], newest_first[2]);
  EXPECT_EQ(records[1]["id"], newest_first[3]);
  const std::string cursor = page2->get_header_value("X-Next-Cursor");
  EXPECT_EQ(cursor, newest_first[3].substr(2));
  EXPECT_EQ(page2->get_header_value("Link"),
            "</jobs/j/history?page_size=2&cursor=" + cursor + ">; rel=\"next\"");
  Json rest = Body(client_->Get(("/jobs/j/history?page_size=2&cursor=" + cursor).c_str()));
  ASSERT_THAT(rest, SizeIs(1));
  EXPECT_EQ(rest[0]["id"], newest_first[4]);

  Json failed = Body(client_->Get("/jobs/j/history?status=failed"));
  ASSERT_THAT(failed, SizeIs(2));
  for (const auto& e : failed) EXPECT_EQ(e["status"], "failed");

  Json bad = ExpectError(client_->Get("/jobs/j/history?page=1&page_size=abc&status=done"), 400,
                         "invalid_argument");
  EXPECT_THAT(bad["fields"], SizeIs(2));
  Json zero = ExpectError(client_->Get("/jobs/j/history?page=0"), 400, "invalid_argument");
  EXPECT_EQ(zero["fields"][0]["field"], "page");
}

TEST_F(ServerTest, HistoryV1PageSizeAlias) {
  std::vector<std::string> newest_first;
  for (int i = 0; i < 101; ++i) {
    newest_first.insert(newest_first.begin(), PutExecution("j", clock_.Now() + absl::Seconds(i),
                                                           model::ExecutionStatus::kSuccess)
                                                  .id.str());
  }
  // v1 scripts page with ?page=&pageSize=.
  Json page2 = Body(client_->Get("/jobs/j/history?page=2&pageSize=3"));
  ASSERT_THAT(page2, SizeIs(3));
  EXPECT_EQ(page2[0]["id"], newest_first[3]);
  EXPECT_EQ(page2[2]["id"], newest_first[5]);
  // v1's bounds for its own parameter: default 20, at most 100 (more is served as 100).
  EXPECT_THAT(Body(client_->Get("/jobs/j/history")), SizeIs(20));
  EXPECT_THAT(Body(client_->Get("/jobs/j/history?pageSize=500")), SizeIs(100));
  EXPECT_THAT(Body(client_->Get("/jobs/j/history?page_size=101")), SizeIs(101));
  // Both names with different values, or a bad value, is a precise 400.
  Json both =
      ExpectError(client_->Get("/jobs/j/history?page_size=2&pageSize=3"), 400, "invalid_argument");
  EXPECT_EQ(both["fields"][0]["field"], "pageSize");
  EXPECT_THAT(Body(client_->Get("/jobs/j/history?page_size=3&pageSize=3")), SizeIs(3));
  Json bad = ExpectError(client_->Get("/jobs/j/history?pageSize=abc"), 400, "invalid_argument");
  EXPECT_EQ(bad["fields"][0]["field"], "pageSize");
  Json zero = ExpectError(client_->Get("/jobs/j/history?pageSize=0"), 400, "invalid_argument");
  EXPECT_EQ(zero["fields"][0]["field"], "pageSize");
}

TEST_F(ServerTest, TriggerPauseResume) {
  ExpectError(Post("/jobs/nope/trigger", ""), 404, "not_found");
  ASSERT_EQ(Post("/jobs/", kV1ShellJob)->status, 201);
  auto r = Post("/jobs/my-first-shell-job/trigger", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  Json e = Body(r);
  EXPECT_EQ(e["status"], "scheduled");
  EXPECT_EQ(e["trigger"], "manual");
  EXPECT_EQ(e["job_name"], "my-first-shell-job");
  auto fetched = client_->Get(("/executions/" + e["id"].get<std::string>()).c_str());
  ASSERT_TRUE(fetched);
  EXPECT_EQ(fetched->status, 200);
  EXPECT_EQ(Body(fetched)["id"], e["id"]);

  Json paused = Body(Post("/jobs/my-first-shell-job/pause", ""));
  EXPECT_EQ(paused["paused"], true);
  EXPECT_EQ(paused["next_run"], nullptr);
  Json resumed = Body(Post("/jobs/my-first-shell-job/resume", ""));
  EXPECT_EQ(resumed["paused"], false);
  ExpectError(Post("/jobs/nope/pause", ""), 404, "not_found");
  ExpectError(Post("/jobs/my-first-shell-job/pause", "x", "text/plain"), 415,
              "unsupported_media_type");
}

// v1 names: any 1-128 characters but '/' and control characters, not "." or "..". URLs carry
// them percent-encoded (decoded exactly once); the store keys encode them (model/keys.h).
std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ShellJobNamed(const std::string& name) {
  Json job = {{"name", name},
              {"cron_expr", "0 0 * * * *"},
              {"executor_type", "shell"},
              {"executor", {{"command", "true"}}}};
  return model::DumpJson(job);
}

TEST_F(ServerTest, V1NamesWorkOnEveryRoute) {
  std::string long_cjk;
  for (int i = 0; i < 128; ++i) long_cjk += "备";
  const std::vector<std::string> names = {"My Job", "备份", "50%",      "%41", "a@b",
                                          "what?",  "#tag", " spaced ", "a+b", long_cjk};
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    auto created = Post("/jobs/", ShellJobNamed(name));
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    EXPECT_EQ(Body(created)["name"], name);
    const std::string path = "/jobs/" + UrlEncode(name);
    auto got = client_->Get(path.c_str());
    ASSERT_EQ(got->status, 200) << got->body;
    EXPECT_EQ(Body(got)["name"], name);
    // Trigger, then find the execution through its id (the id embeds the name).
    auto triggered = Post(path + "/trigger", "");
    ASSERT_EQ(triggered->status, 202) << triggered->body;
    const std::string id = Body(triggered)["id"];
    EXPECT_EQ(id.substr(0, name.size() + 1), name + "@");
    auto execution = client_->Get(("/executions/" + UrlEncode(id)).c_str());
    ASSERT_EQ(execution->status, 200) << execution->body;
    EXPECT_EQ(Body(execution)["job_name"], name);
    Json history = Body(client_->Get((path + "/history?page=1&pageSize=5").c_str()));
    ASSERT_THAT(history, SizeIs(1));
    EXPECT_EQ(history[0]["id"], id);
    // PUT by name (the body's name must match the decoded path).
    EXPECT_EQ(client_->Put(path.c_str(), ShellJobNamed(name), kJsonType)->status, 201);
  }
  // "%41" is its own job, not "A": the path is decoded once.
  EXPECT_EQ(client_->Get("/jobs/A")->status, 404);
  Json all = Body(client_->Get("/jobs/"));
  EXPECT_THAT(all, SizeIs(names.size()));
  // Paging by name cursor across encoded names: every job exactly once.
  std::set<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 20; ++pages) {
    auto page =
        client_->Get(("/jobs/?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor)).c_str());
    ASSERT_EQ(page->status, 200) << page->body;
    for (const auto& j : Body(page)) EXPECT_TRUE(seen.insert(j["name"]).second) << j["name"];
    // The server sends the cursor percent-encoded; httplib's client decodes header values, so
    // encode it again (curl and browsers pass it through as sent).
    cursor = UrlEncode(page->get_header_value("X-Next-Cursor"));
    if (cursor.empty()) break;
  }
  EXPECT_EQ(seen.size(), names.size());
  for (const std::string& name : names) {
    EXPECT_EQ(client_->Delete(("/jobs/" + UrlEncode(name) + "?purge=true").c_str())->status, 204);
  }
  EXPECT_THAT(Body(client_->Get("/jobs/")), SizeIs(0));
}

TEST_F(ServerTest, V1NameRefusals) {
  for (const std::string& bad :
       {std::string(""), std::string("a/b"), std::string("a\tb"), std::string("a\nb"),
        std::string("."), std::string(".."), std::string(129, 'x'), std::string("a\x7f")}) {
    Json body = ExpectError(Post("/jobs/", ShellJobNamed(bad)), 400, "invalid_argument");
    ASSERT_THAT(body["fields"], SizeIs(1)) << bad;
    EXPECT_EQ(body["fields"][0]["field"], "name") << bad;
  }
  // In the URL: an encoded '/' decodes to a second path segment (no route), a control
  // character is a 400 naming it.
  EXPECT_EQ(client_->Get("/jobs/a%2Fb")->status, 404);
  Json ctl = ExpectError(client_->Get("/jobs/a%01b"), 400, "invalid_argument");
  EXPECT_THAT(ctl["error"].get<std::string>(), HasSubstr("control character U+0001"));
}

TEST_F(ServerTest, PurgeOfOneJobLeavesAJobWhoseNameExtendsItWithAt) {
  // Job "a" and job "a@b": execution ids "a@<suffix>" and "a@b@<suffix>".
  ASSERT_EQ(Post("/jobs/", ShellJobNamed("a"))->status, 201);
  ASSERT_EQ(Post("/jobs/", ShellJobNamed("a@b"))->status, 201);
  ASSERT_EQ(Post("/jobs/a/trigger", "")->status, 202);
  auto other = Post("/jobs/a%40b/trigger", "");
  ASSERT_EQ(other->status, 202);
  const std::string other_id = Body(other)["id"];
  EXPECT_EQ(client_->Delete("/jobs/a?purge=true")->status, 204);
  // a@b's execution is still queued and in its history; a's is gone.
  EXPECT_TRUE(kv_->Range(store::RangeRequest::Key(
                             service_.keys().Pending(*model::ExecutionId::Parse(other_id))))
                  ->kvs.size() == 1);
  Json history = Body(client_->Get("/jobs/a%40b/history"));
  ASSERT_THAT(history, SizeIs(1));
  EXPECT_EQ(history[0]["id"], other_id);
  EXPECT_EQ(history[0]["status"], "scheduled");
  EXPECT_THAT(Body(client_->Get("/jobs/a/history")), SizeIs(0));
}

TEST_F(ServerTest, Executions) {
  auto running = PutExecution("j", clock_.Now(), model::ExecutionStatus::kRunning);
  auto done = PutExecution("j", clock_.Now(), model::ExecutionStatus::kSuccess);
  MarkClaimed(running.id);
  auto r = Post("/executions/" + running.id.str() + "/kill", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(Body(r)["status"], "running");
  EXPECT_TRUE(store::Get(*kv_, service_.keys().Kill(running.id))->has_value());
  Json conflict =
      ExpectError(Post("/executions/" + done.id.str() + "/kill", ""), 409, "failed_precondition");
  EXPECT_THAT(conflict["error"].get<std::string>(), HasSubstr("already finished"));
  ExpectError(client_->Get("/executions/j@1772938800000-00000000"), 404, "not_found");
  ExpectError(client_->Get("/executions/garbage"), 400, "invalid_argument");
  ExpectError(Post("/executions/garbage/kill", ""), 400, "invalid_argument");
}

TEST_F(ServerTest, Cluster) {
  Json empty = Body(client_->Get("/cluster"));
  EXPECT_EQ(
      empty,
      Json::parse(
          R"({"leader":null,"masters":[],"workers":[],"auth":{"required":false,"insecure_no_auth":false}})"));
  ASSERT_TRUE(kv_->Put({.key = service_.keys().ElectionPrefix() + "1",
                        .value = R"({"id":"m1","address":"h:1"})"})
                  .ok());
  ASSERT_TRUE(kv_->Put({.key = service_.keys().Worker("w1"), .value = R"({"capacity":2})"}).ok());
  Json info = Body(client_->Get("/cluster"));
  EXPECT_EQ(info["leader"]["id"], "m1");
  EXPECT_EQ(info["leader"]["address"], "h:1");
  EXPECT_TRUE(info["leader"]["term"].is_number_integer());
  EXPECT_EQ(info["workers"][0]["id"], "w1");
  EXPECT_EQ(info["workers"][0]["capacity"], 2);
}

TEST_F(ServerTest, CronPreview) {
  auto r = client_->Get("/cron/preview?expr=0%200%203%20*%20*%20*&tz=Europe%2FBerlin&n=2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  Json p = Body(r);
  EXPECT_EQ(p["expr"], "0 0 3 * * *");
  EXPECT_EQ(p["timezone"], "Europe/Berlin");
  EXPECT_EQ(p["next"], Json::parse(R"(["2026-01-01T02:00:00Z","2026-01-02T02:00:00Z"])"));
  EXPECT_TRUE(p["description"].is_string());
  Json bad = ExpectError(client_->Get("/cron/preview?expr=61%20*%20*%20*%20*%20*"), 400,
                         "invalid_argument");
  EXPECT_EQ(bad["fields"][0]["field"], "expr");
  ExpectError(client_->Get("/cron/preview?expr=*&n=x"), 400, "invalid_argument");
}

TEST_F(ServerTest, HealthAndReadiness) {
  EXPECT_EQ(Body(client_->Get("/healthz")), Json::parse(R"({"status":"ok"})"));
  EXPECT_EQ(client_->Get("/readyz")->status, 200);
  flaky_.SetDown(true);
  Json down = ExpectError(client_->Get("/readyz"), 503, "unavailable");
  EXPECT_THAT(down["error"].get<std::string>(), StartsWith("store unavailable"));
  EXPECT_EQ(client_->Get("/healthz")->status, 200);  // alive, just not ready
  Json list = ExpectError(client_->Get("/jobs/"), 503, "unavailable");
  EXPECT_THAT(list["error"].get<std::string>(), StartsWith("store unavailable"));
  ExpectError(Post("/jobs/", kV1ShellJob), 503, "unavailable");
}

TEST_F(ServerTest, UnknownRoutesLongPathsAndExceptions) {
  Json body = ExpectError(client_->Get("/nope"), 404, "not_found");
  EXPECT_EQ(body["error"], "no route for GET /nope");
  ExpectError(client_->Get(("/jobs/" + std::string(3000, 'a')).c_str()), 414, "uri_too_long");
  ExpectError(client_->Get("/boom"), 500, "internal");
  auto extra = client_->Get("/extra");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->body, "extra");
}

TEST_F(ServerTest, StartTwiceAndBadAddress) {
  EXPECT_EQ(server_->Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
  ApiServer other(service_, {});
  EXPECT_EQ(other.Start("nonsense").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(other.Start("127.0.0.1:" + std::to_string(server_->port())).code(),
            absl::StatusCode::kUnavailable);
}

// CORS through a real server: the decision (cors_test.cc) applied before routing, on every path.
class CorsServerTest : public testing::ServiceFixture {
 protected:
  static constexpr char kUi[] = "http://localhost:3000";
  void Start(const std::string& origins, bool auth_required = false) {
    ApiServer::Options options;
    auto policy = ParseCorsOrigins(origins);
    ASSERT_TRUE(policy.ok()) << policy.status();
    options.cors = *policy;
    options.security.required = auth_required;
    server_ = std::make_unique<ApiServer>(service_, options);
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  httplib::Result Preflight(const std::string& path, const std::string& origin,
                            const std::string& method = "POST") {
    return client_->Options(path.c_str(), {{"Origin", origin},
                                           {"Access-Control-Request-Method", method},
                                           {"Access-Control-Request-Headers", "content-type"}});
  }
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(CorsServerTest, PreflightOnEveryRouteFromAConfiguredOrigin) {
  Start(std::string(kUi) + ",http://other.example:8000");
  for (const char* path : {"/jobs/", "/jobs", "/jobs/My%20Job", "/jobs/x/history", "/cluster",
                           "/executions/x@1-a/kill", "/no/such/route"}) {
    auto r = Preflight(path, kUi);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kUi) << path;
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Methods"),
              "POST, GET, OPTIONS, PUT, DELETE");
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Headers"), "Content-Type, Authorization");
    EXPECT_EQ(r->get_header_value("Vary"), "Origin");
  }
  // The request itself carries the allow header too.
  auto list = client_->Get("/jobs/", {{"Origin", kUi}});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_EQ(list->get_header_value("Access-Control-Allow-Origin"), kUi);
  EXPECT_EQ(list->get_header_value("Vary"), "Origin");
  auto created =
      client_->Post("/jobs/", {{"Origin", "http://other.example:8000"}}, kV1ShellJob, kJsonType);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(created->get_header_value("Access-Control-Allow-Origin"), "http://other.example:8000");
}

TEST_F(CorsServerTest, ForbiddenOriginGetsNoCorsHeadersAndIsRefused) {
  Start(kUi);
  auto pre = Preflight("/jobs/", "http://evil.example");
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 403);
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Origin"));
  // A "simple" request (no preflight) must not run either: nothing is created.
  auto post = client_->Post("/jobs/", {{"Origin", "http://evil.example"}}, kV1ShellJob, kJsonType);
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 403);
  EXPECT_FALSE(post->has_header("Access-Control-Allow-Origin"));
  auto body = model::ParseJson(post->body);
  ASSERT_TRUE(body.ok()) << post->body;
  EXPECT_EQ((*body)["code"], "permission_denied");
  EXPECT_THAT((*body)["error"].get<std::string>(), HasSubstr("http://evil.example"));
  EXPECT_EQ(model::ParseJson(client_->Get("/jobs/")->body).value().size(), 0u);
}

TEST_F(CorsServerTest, DefaultIsSameOriginOnly) {
  Start("");
  EXPECT_EQ(Preflight("/jobs/", kUi)->status, 403);
  // The master's own UI: its Origin is the Host it talks to.
  const std::string self = "http://127.0.0.1:" + std::to_string(server_->port());
  auto post = client_->Post("/jobs/", {{"Origin", self}}, kV1ShellJob, kJsonType);
  EXPECT_EQ(post->status, 201);
  EXPECT_FALSE(post->has_header("Access-Control-Allow-Origin"));
  // Scripts send no Origin; v1 answered a plain OPTIONS with 200.
  EXPECT_EQ(client_->Get("/jobs/")->status, 200);
  auto options = client_->Options("/jobs/");
  EXPECT_EQ(options->status, 200);
  EXPECT_EQ(options->get_header_value("Allow"), "POST, GET, OPTIONS, PUT, DELETE");
}

TEST_F(CorsServerTest, WildcardOnlyWithTokenAuth) {
  ApiServer::Options options;
  options.cors.any = true;
  ApiServer refused(service_, options);
  absl::Status st = refused.Start("127.0.0.1:0");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("--cors-origin"));
  Start("*", /*auth_required=*/true);
  // Browsers send no credentials on a preflight: it is answered before authentication.
  auto pre = Preflight("/jobs/", "http://anything.example", "DELETE");
  EXPECT_EQ(pre->status, 200);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "*");
  // The request itself still needs its token, and its refusal is readable cross-origin.
  auto list = client_->Get("/jobs/", {{"Origin", "http://anything.example"}});
  EXPECT_EQ(list->status, 401);
  EXPECT_EQ(list->get_header_value("Access-Control-Allow-Origin"), "*");
}

class StaticTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("hg-api-static-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "ui" / "assets");
    std::ofstream(dir_ / "ui" / "index.html") << "<html>index</html>";
    std::ofstream(dir_ / "ui" / "assets" / "app.js") << "console.log(1)";
    std::ofstream(dir_ / "secret.txt") << "secret";
    server_ = std::make_unique<ApiServer>(service_, ApiServer::Options{});
    ASSERT_TRUE(server_->MountStatic("/ui/", (dir_ / "ui").string()).ok());
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(StaticTest, ServesFilesWithSpaFallback) {
  auto index = client_->Get("/ui/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->body, "<html>index</html>");
  EXPECT_EQ(index->get_header_value("Content-Type"), "text/html; charset=utf-8");
  auto js = client_->Get("/ui/assets/app.js");
  EXPECT_EQ(js->body, "console.log(1)");
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  auto route = client_->Get("/ui/jobs/my-job");
  EXPECT_EQ(route->status, 200);
  EXPECT_EQ(route->body, "<html>index</html>");
  // A job name with a dot is a route, not a file: deep links and reloads must work.
  auto dotted = client_->Get("/ui/jobs/backup.daily");
  EXPECT_EQ(dotted->status, 200);
  EXPECT_EQ(dotted->body, "<html>index</html>");
  EXPECT_EQ(client_->Get("/ui/assets/missing.js")->status, 404);
  auto escape = client_->Get("/ui/../secret.txt");
  EXPECT_NE(escape->body, "secret");
  auto escape2 = client_->Get("/ui/assets/%2e%2e/%2e%2e/secret.txt");
  EXPECT_NE(escape2->body, "secret");
  auto root = client_->Get("/");
  EXPECT_EQ(root->status, 302);
  EXPECT_EQ(root->get_header_value("Location"), "/ui/");
  EXPECT_EQ(client_->Get("/ui")->status, 302);
  // The API still answers next to the UI.
  EXPECT_EQ(client_->Get("/jobs/")->status, 200);
  EXPECT_FALSE(ApiServer(service_, {}).MountStatic("/x/", (dir_ / "nope").string()).ok());
}

}  // namespace
}  // namespace hg::api
