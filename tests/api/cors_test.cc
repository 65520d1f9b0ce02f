// The CORS decision in isolation (api/cors.h): parsing the allowed origins and deciding one
// request from its method and headers.
#include "api/cors.h"

#include <algorithm>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hg::api {
namespace {

using ::testing::HasSubstr;

CorsPolicy Policy(const std::string& text) {
  auto p = ParseCorsOrigins(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  return p.ok() ? *p : CorsPolicy{};
}

std::string Header(const CorsDecision& d, const std::string& name) {
  auto it = std::find_if(d.headers.begin(), d.headers.end(),
                         [&](const auto& h) { return h.first == name; });
  return it == d.headers.end() ? "" : it->second;
}

constexpr char kUi[] = "http://localhost:3000";

CorsRequest Preflight(const char* origin, const char* host = "127.0.0.1:8080") {
  return {.method = "OPTIONS",
          .origin = origin,
          .host = host,
          .request_method = "POST",
          .request_headers = "content-type"};
}

TEST(CorsParseTest, OriginsAndRefusals) {
  EXPECT_TRUE(Policy("").origins.empty());
  EXPECT_THAT(Policy("http://localhost:3000, https://UI.example.com").origins,
              ::testing::ElementsAre("http://localhost:3000", "https://ui.example.com"));
  EXPECT_TRUE(Policy("*").any);
  for (const char* bad : {"localhost:3000", "ftp://x", "http://", "http://x/path", "http://x/",
                          "http://a b", "*,http://x"}) {
    auto p = ParseCorsOrigins(bad);
    EXPECT_FALSE(p.ok()) << bad;
    EXPECT_THAT(p.status().message(), HasSubstr("--cors-origin")) << bad;
  }
}

TEST(CorsDecideTest, NoOriginIsNotCors) {
  const CorsDecision d = DecideCors(Policy(kUi), {.method = "GET", .host = "127.0.0.1:8080"});
  EXPECT_EQ(d.outcome, CorsOutcome::kProceed);
  EXPECT_EQ(Header(d, "Access-Control-Allow-Origin"), "");
  EXPECT_EQ(Header(d, "Vary"), "Origin");
}

TEST(CorsDecideTest, PreflightFromAnAllowedOrigin) {
  const CorsDecision d = DecideCors(Policy(kUi), Preflight(kUi));
  EXPECT_EQ(d.outcome, CorsOutcome::kPreflight);
  EXPECT_EQ(Header(d, "Access-Control-Allow-Origin"), kUi);
  EXPECT_EQ(Header(d, "Access-Control-Allow-Methods"), "POST, GET, OPTIONS, PUT, DELETE");
  EXPECT_EQ(Header(d, "Access-Control-Allow-Headers"), "Content-Type, Authorization");
  EXPECT_EQ(Header(d, "Vary"), "Origin");
  EXPECT_NE(Header(d, "Access-Control-Max-Age"), "");
}

TEST(CorsDecideTest, ActualRequestFromAnAllowedOrigin) {
  const CorsDecision d =
      DecideCors(Policy(kUi), {.method = "POST", .origin = kUi, .host = "127.0.0.1:8080"});
  EXPECT_EQ(d.outcome, CorsOutcome::kProceed);
  EXPECT_EQ(Header(d, "Access-Control-Allow-Origin"), kUi);
  EXPECT_THAT(Header(d, "Access-Control-Expose-Headers"), HasSubstr("X-Next-Cursor"));
  EXPECT_EQ(Header(d, "Access-Control-Allow-Methods"), "");  // preflight only
}

TEST(CorsDecideTest, ForbiddenOriginGetsNoHeadersAndIsRefused) {
  for (const CorsRequest& r :
       {Preflight("http://evil.example"),
        CorsRequest{.method = "POST", .origin = "http://evil.example", .host = "127.0.0.1:8080"},
        CorsRequest{.method = "GET", .origin = "null", .host = "127.0.0.1:8080"},
        // Origins compare whole: scheme and port count.
        Preflight("https://localhost:3000"), Preflight("http://localhost:3001")}) {
    const CorsDecision d = DecideCors(Policy(kUi), r);
    EXPECT_EQ(d.outcome, CorsOutcome::kForbidden) << *r.origin;
    EXPECT_EQ(Header(d, "Access-Control-Allow-Origin"), "") << *r.origin;
    EXPECT_EQ(Header(d, "Vary"), "Origin");
  }
}

TEST(CorsDecideTest, DefaultIsSameOriginOnly) {
  const CorsPolicy none = Policy("");
  EXPECT_EQ(DecideCors(none, Preflight(kUi)).outcome, CorsOutcome::kForbidden);
  // The UI the master serves itself: Origin matches Host.
  const CorsDecision same = DecideCors(
      none, {.method = "POST", .origin = "http://127.0.0.1:8080", .host = "127.0.0.1:8080"});
  EXPECT_EQ(same.outcome, CorsOutcome::kProceed);
  EXPECT_EQ(Header(same, "Access-Control-Allow-Origin"), "");
  EXPECT_EQ(
      DecideCors(none,
                 {.method = "GET", .origin = "https://hg.example.com", .host = "HG.example.com"})
          .outcome,
      CorsOutcome::kProceed);
  EXPECT_EQ(
      DecideCors(none,
                 {.method = "GET", .origin = "http://127.0.0.1:8081", .host = "127.0.0.1:8080"})
          .outcome,
      CorsOutcome::kForbidden);
}

TEST(CorsDecideTest, WildcardAnswersEveryOriginWithStar) {
  const CorsDecision d = DecideCors(Policy("*"), Preflight("http://anything.example"));
  EXPECT_EQ(d.outcome, CorsOutcome::kPreflight);
  EXPECT_EQ(Header(d, "Access-Control-Allow-Origin"), "*");
}

TEST(CorsDecideTest, OptionsWithoutPreflightHeadersIsAnswered) {
  // v1 answered every OPTIONS: a plain OPTIONS (curl -X OPTIONS) gets the Allow list.
  const CorsDecision d = DecideCors(Policy(""), {.method = "OPTIONS", .host = "127.0.0.1:8080"});
  EXPECT_EQ(d.outcome, CorsOutcome::kPreflight);
  EXPECT_EQ(Header(d, "Allow"), "POST, GET, OPTIONS, PUT, DELETE");
}

}  // namespace
}  // namespace hg::api
