// Authentication and roles through a real ApiServer (docs/design/security.md): every route the
// server registers is checked anonymously and with each role, so a route added without the
// right access — or without an entry in kExpectedAccess — fails here.
#include <httplib.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_replace.h"
#include "api/server.h"
#include "auth/audit.h"
#include "auth/rate_limiter.h"
#include "auth/token_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/json.h"
#include "tests/api/api_test_util.h"

namespace hg::api {
namespace {

using auth::Access;
using auth::Role;

// Every route and the access it must require. A new route must be added here.
const std::map<std::string, Access> kExpectedAccess = {
    {"POST /jobs/?", Access::kAdmin},
    {"PUT /jobs/([^/]+)/?", Access::kAdmin},
    {"DELETE /jobs/([^/]+)/?", Access::kAdmin},
    {"GET /jobs/?", Access::kView},
    {"GET /jobs/([^/]+)/?", Access::kView},
    {"GET /jobs/([^/]+)/history/?", Access::kView},
    {"GET /jobs/([^/]+)/ledger/?", Access::kView},
    {"POST /jobs/([^/]+)/trigger/?", Access::kOperate},
    {"POST /jobs/([^/]+)/pause/?", Access::kOperate},
    {"POST /jobs/([^/]+)/resume/?", Access::kOperate},
    {"GET /executions/([^/]+)/?", Access::kView},
    {"POST /executions/([^/]+)/kill/?", Access::kOperate},
    {"GET /cluster/?", Access::kView},
    {"GET /cron/preview/?", Access::kView},
    {"GET /healthz/?", Access::kOpen},
    {"GET /readyz/?", Access::kOpen},
    {"GET /auth/?", Access::kOpen},
    {"GET /tokens/?", Access::kAdmin},
    {"POST /tokens/?", Access::kAdmin},
    {"DELETE /tokens/([^/]+)/?", Access::kAdmin},
    {"GET /audit/?", Access::kAdmin},
};

// A concrete path for a route pattern.
std::string PathOf(const std::string& pattern) {
  return absl::StrReplaceAll(pattern, {{"([^/]+)", "x"}, {"/?", ""}, {"(.*)", ""}});
}

class SecurityTest : public testing::ServiceFixture {
 protected:
  void SetUp() override { StartServer(/*per_second=*/0); }

  void StartServer(double per_second) {
    if (server_) server_->Stop();
    limiter_ = std::make_unique<auth::RateLimiter>(
        clock_, auth::RateLimiter::Options{.per_second = per_second, .burst = 3});
    ApiServer::Options options;
    options.security = {
        .tokens = &tokens_, .required = true, .limiter = limiter_.get(), .audit = &audit_};
    server_ = std::make_unique<ApiServer>(service_, options);
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override { server_->Stop(); }

  std::string TokenFor(Role role) {
    const std::string name(auth::RoleName(role));
    auto text = tokens_.Create(name, role, "test", std::nullopt);
    if (text.ok()) texts_[role] = *text;
    return texts_[role];
  }
  httplib::Result Call(const std::string& method, const std::string& path,
                       const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    if (method == "GET") return client_->Get(path.c_str(), headers);
    if (method == "DELETE") return client_->Delete(path.c_str(), headers);
    if (method == "PUT") return client_->Put(path.c_str(), headers, "{}", "application/json");
    return client_->Post(path.c_str(), headers, "{}", "application/json");
  }

  auth::TokenStore tokens_{*kv_, clock_, service_.keys(), {}};
  auth::AuditLog audit_{*kv_, clock_, service_.keys(), {}};
  std::unique_ptr<auth::RateLimiter> limiter_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::map<Role, std::string> texts_;
};

TEST_F(SecurityTest, EveryRouteHasItsExpectedAccess) {
  std::map<std::string, Access> registered;
  for (const auto& r : server_->routes()) registered[r.method + " " + r.pattern] = r.access;
  EXPECT_EQ(registered, kExpectedAccess);
}

TEST_F(SecurityTest, EveryRouteRefusesWhoMayNotCallIt) {
  const std::map<Role, std::string> tokens = {{Role::kViewer, TokenFor(Role::kViewer)},
                                              {Role::kOperator, TokenFor(Role::kOperator)},
                                              {Role::kAdmin, TokenFor(Role::kAdmin)}};
  for (const auto& route : server_->routes()) {
    const std::string path = PathOf(route.pattern);
    SCOPED_TRACE(route.method + " " + path);
    auto anonymous = Call(route.method, path, "");
    ASSERT_TRUE(anonymous);
    auto forged = Call(route.method, path, "hg_admin." + std::string(64, '0'));
    ASSERT_TRUE(forged);
    if (route.access == Access::kOpen) {
      EXPECT_NE(anonymous->status, 401);
      EXPECT_NE(anonymous->status, 403);
      continue;
    }
    EXPECT_EQ(anonymous->status, 401) << anonymous->body;
    EXPECT_EQ(anonymous->get_header_value("WWW-Authenticate"), "Bearer realm=\"hourglass\"");
    EXPECT_EQ(forged->status, 401) << forged->body;
    for (const auto& [role, token] : tokens) {
      auto r = Call(route.method, path, token);
      ASSERT_TRUE(r);
      if (auth::Allows(role, route.access)) {
        EXPECT_NE(r->status, 401) << auth::RoleName(role) << ": " << r->body;
        EXPECT_NE(r->status, 403) << auth::RoleName(role) << ": " << r->body;
      } else {
        EXPECT_EQ(r->status, 403) << auth::RoleName(role) << ": " << r->body;
      }
    }
  }
}

TEST_F(SecurityTest, AnAdminManagesTokensAndTheSecretIsShownOnce) {
  const std::string admin = TokenFor(Role::kAdmin);
  httplib::Headers auth_header = {{"Authorization", "Bearer " + admin}};
  auto created = client_->Post("/tokens", auth_header,
                               R"({"name":"deploy","role":"operator","expires_in":"24h"})",
                               "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  auto body = model::ParseJson(created->body);
  ASSERT_TRUE(body.ok());
  const std::string token = (*body)["token"];
  auto who = client_->Get("/auth", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(who);
  EXPECT_EQ(who->status, 200);
  auto who_json = model::ParseJson(who->body);
  EXPECT_EQ((*who_json)["principal"]["name"], "deploy");
  EXPECT_EQ((*who_json)["principal"]["role"], "operator");
  EXPECT_EQ((*who_json)["required"], true);

  auto list = client_->Get("/tokens", auth_header);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_THAT(list->body, ::testing::HasSubstr("\"deploy\""));
  EXPECT_THAT(list->body, ::testing::Not(::testing::HasSubstr(token.substr(token.find('.') + 1))));
  EXPECT_THAT(list->body, ::testing::Not(::testing::HasSubstr("hash")));

  for (const char* bad : {R"({"name":"a b","role":"operator"})", R"({"name":"x","role":"root"})",
                          R"({"name":"x","role":"viewer","expires_in":"-1h"})",
                          R"({"name":"x","role":"viewer","extra":1})", "[]"}) {
    auto r = client_->Post("/tokens", auth_header, bad, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << " " << r->body;
  }
  auto dup = client_->Post("/tokens", auth_header, R"({"name":"deploy","role":"viewer"})",
                           "application/json");
  EXPECT_EQ(dup->status, 409);

  auto del = client_->Delete("/tokens/deploy", auth_header);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204);
  auto after = client_->Get("/jobs", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(after->status, 401);
  EXPECT_EQ(client_->Delete("/tokens/deploy", auth_header)->status, 404);
}

TEST_F(SecurityTest, MutatingCallsAreAuditedWithWhoWhatAndTheAnswer) {
  const std::string op = TokenFor(Role::kOperator);
  const std::string admin = TokenFor(Role::kAdmin);
  ASSERT_EQ(Call("POST", "/jobs/nosuch/trigger", op)->status, 404);
  ASSERT_EQ(Call("DELETE", "/jobs/nosuch", op)->status, 403);
  ASSERT_EQ(Call("POST", "/jobs/nosuch/pause", "")->status, 401);
  ASSERT_EQ(Call("GET", "/jobs", op)->status, 200);  // reads are not audited
  auto r = client_->Get("/audit?limit=10", {{"Authorization", "Bearer " + admin}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto entries = model::ParseJson(r->body);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 3u) << r->body;
  // Newest first.
  EXPECT_EQ((*entries)[0]["actor"], "anonymous");
  EXPECT_EQ((*entries)[0]["status"], 401);
  EXPECT_EQ((*entries)[1]["actor"], "operator");
  EXPECT_EQ((*entries)[1]["method"], "DELETE");
  EXPECT_EQ((*entries)[1]["route"], "/jobs/{name}");
  EXPECT_EQ((*entries)[1]["status"], 403);
  EXPECT_EQ((*entries)[2]["target"], "nosuch");
  EXPECT_EQ((*entries)[2]["route"], "/jobs/{name}/trigger");
  EXPECT_EQ((*entries)[2]["role"], "operator");
  EXPECT_EQ((*entries)[2]["remote"], "127.0.0.1");
}

TEST_F(SecurityTest, ACallerOverItsRateGets429WithRetryAfter) {
  StartServer(/*per_second=*/1);  // burst 3
  const std::string viewer = TokenFor(Role::kViewer);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Call("GET", "/jobs", viewer)->status, 200) << i;
  auto refused = Call("GET", "/jobs", viewer);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429) << refused->body;
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  // Another caller is not held up; health probes are never limited.
  EXPECT_EQ(Call("GET", "/jobs", TokenFor(Role::kAdmin))->status, 200);
  EXPECT_EQ(Call("GET", "/healthz", "")->status, 200);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Call("GET", "/jobs", viewer)->status, 200);
}

TEST_F(SecurityTest, WithoutRequiredAuthEveryCallerIsAnAnonymousAdmin) {
  server_->Stop();
  ApiServer::Options options;
  options.security = {.tokens = &tokens_, .required = false, .insecure_no_auth = true};
  server_ = std::make_unique<ApiServer>(service_, options);
  ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
  client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  auto who = client_->Get("/auth");
  ASSERT_TRUE(who);
  auto json = model::ParseJson(who->body);
  EXPECT_EQ((*json)["required"], false);
  EXPECT_EQ((*json)["insecure_no_auth"], true);
  EXPECT_EQ((*json)["principal"]["role"], "admin");
  EXPECT_EQ(client_->Get("/cluster")->status, 200);
  auto cluster = model::ParseJson(client_->Get("/cluster")->body);
  EXPECT_EQ((*cluster)["auth"]["insecure_no_auth"], true);
}

}  // namespace
}  // namespace hg::api
