// GET /openapi.json against the real routes: every route a master registers is documented and
// every documented route exists (method + path; a regex group is a {param}); the limits in the
// document are the constants validation uses; the checked-in docs/api/openapi.json already
// holds them (HG_UPDATE_OPENAPI=1 rewrites it from the constants).
#include "api/openapi.h"

#include <httplib.h>

#include <fstream>
#include <set>

#include "api/node_routes.h"
#include "api/server.h"
#include "auth/audit.h"
#include "auth/token_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/ids.h"
#include "model/job.h"
#include "telemetry/tracer.h"
#include "tests/api/api_test_util.h"

namespace hg::api {
namespace {

using model::Json;

// "/jobs/{name}/" and "/jobs/([^/]+)/?" both become "/jobs/{}".
std::string Normalized(std::string path) {
  if (path.ends_with("/?")) path.resize(path.size() - 2);
  if (path.find('(') != std::string::npos || path.find('\\') != std::string::npos) {
    path = trace::RouteTemplate(path);
  }
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      out += "{}";
      i = path.find('}', i);
      continue;
    }
    out += path[i];
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

class OpenApiTest : public testing::ServiceFixture {
 protected:
  ApiServer::Options Options() {
    ApiServer::Options o;
    o.security = {.tokens = &tokens_, .required = true, .audit = &audit_};
    return o;
  }
  void SetUp() override {
    RegisterNodeRoutes(
        server_, stats_, service_.options(),
        [](const http::Request&, http::Response& res) { res.SetContent("", "text/plain"); });
    ASSERT_TRUE(server_.Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_.port());
  }
  void TearDown() override { server_.Stop(); }

  static Json Source() {
    auto doc = model::ParseJson(OpenApiSource());
    EXPECT_TRUE(doc.ok()) << doc.status();
    return doc.ok() ? *doc : Json::object();
  }

  auth::TokenStore tokens_{*kv_, clock_, service_.keys(), {}};
  auth::AuditLog audit_{*kv_, clock_, service_.keys(), {}};
  StatsService stats_{*kv_, clock_, service_.keys(), service_};
  ApiServer server_{service_, Options()};
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(OpenApiTest, EveryRouteIsDocumentedAndEveryDocumentedRouteExists) {
  std::set<std::string> registered;
  for (const ApiServer::Route& r : server_.routes()) {
    registered.insert(r.method + " " + Normalized(r.pattern));
  }
  std::set<std::string> documented;
  const Json doc = Source();
  ASSERT_TRUE(doc.contains("paths"));
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, operation] : item.items()) {
      if (method == "parameters" || method == "summary" || method == "description") continue;
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(upper + " " + Normalized(path));
      EXPECT_TRUE(operation.contains("x-hourglass-access")) << method << " " << path;
    }
  }
  std::vector<std::string> undocumented, missing;
  std::set_difference(registered.begin(), registered.end(), documented.begin(), documented.end(),
                      std::back_inserter(undocumented));
  std::set_difference(documented.begin(), documented.end(), registered.begin(), registered.end(),
                      std::back_inserter(missing));
  EXPECT_THAT(undocumented, ::testing::IsEmpty()) << "registered routes missing from the document";
  EXPECT_THAT(missing, ::testing::IsEmpty()) << "documented routes no server registers";
  EXPECT_GE(registered.size(), 20u);
}

TEST_F(OpenApiTest, ServedOpenlyWithTheLimitsOfValidation) {
  auto r = client_->Get("/openapi.json");  // no token, tokens required: still served
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  auto doc = model::ParseJson(r->body);
  ASSERT_TRUE(doc.ok());
  EXPECT_THAT((*doc)["openapi"].get<std::string>(), ::testing::StartsWith("3."));
  const Json& limits = (*doc)["x-hourglass-limits"];
  EXPECT_EQ(limits, ApiLimits(server_.options(), service_.options()));
  EXPECT_EQ(limits["job_name_max_chars"], model::JobName::kMaxLength);
  EXPECT_EQ(limits["max_retries"], model::RetryPolicy::kMaxRetries);
  EXPECT_EQ(limits["history_limit_max"], model::Job::kMaxHistoryLimit);
  EXPECT_EQ(limits["description_max_bytes"], model::JobLimits::kMaxDescription);
  EXPECT_EQ(limits["request_body_max_bytes"], server_.options().max_body_bytes);
  EXPECT_EQ(limits["page_size_max"], service_.options().max_page_size);
  const Json& schemas = (*doc)["components"]["schemas"];
  EXPECT_EQ(schemas["JobSpec"]["properties"]["name"]["maxLength"], model::JobName::kMaxLength);
  EXPECT_EQ(schemas["ExecutorSpec"]["properties"]["command"]["maxLength"],
            model::JobLimits::kMaxCommand);
  EXPECT_EQ(schemas["RetryPolicy"]["properties"]["max_retries"]["maximum"],
            model::RetryPolicy::kMaxRetries);
  for (const model::ShellLimits::Bounds& b : model::ShellLimits::kFields) {
    EXPECT_EQ(schemas["ShellLimits"]["properties"][b.name]["maximum"], b.max) << b.name;
    EXPECT_EQ(limits["shell_limits"][b.name]["min"], b.min) << b.name;
  }
  // The other new routes need a token.
  auto stats = client_->Get("/stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->status, 401);
}

// The checked-in document holds what the server would fill in, so the generated TypeScript types
// and anyone reading the file see the real limits.
TEST_F(OpenApiTest, CheckedInDocumentHoldsTheLimits) {
  std::ifstream in(HG_OPENAPI_JSON);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, OpenApiSource()) << "the binary was built from another docs/api/openapi.json";
  auto parsed = model::ParseJson(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Json source = *parsed;
  Json patched = source;
  ApplyLimits(ApiLimits(ApiServer::Options{}, JobService::Options{}), &patched);
  if (std::getenv("HG_UPDATE_OPENAPI") != nullptr) {
    std::ofstream(HG_OPENAPI_JSON) << patched.dump(2) << "\n";
    GTEST_SKIP() << "rewrote " << HG_OPENAPI_JSON;
  }
  EXPECT_EQ(source, patched) << "docs/api/openapi.json is stale: run HG_UPDATE_OPENAPI=1 "
                                "build/<preset>/tests/api/api_test --gtest_filter='OpenApi*'";
}

}  // namespace
}  // namespace hg::api
