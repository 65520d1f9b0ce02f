#include "telemetry/trace_context.h"

#include <set>

#include "gtest/gtest.h"

namespace hg::trace {
namespace {

constexpr char kExample[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, ParsesTheSpecExample) {
  auto ctx = ParseTraceparent(kExample);
  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(ctx->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->SpanIdHex(), "00f067aa0ba902b7");
  EXPECT_TRUE(ctx->sampled());
  EXPECT_EQ(FormatTraceparent(*ctx), kExample);
}

TEST(TraceparentTest, KeepsFlagsAndIgnoresBlanks) {
  auto ctx = ParseTraceparent("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\t");
  ASSERT_TRUE(ctx.has_value());
  EXPECT_FALSE(ctx->sampled());
  EXPECT_EQ(FormatTraceparent(*ctx), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST(TraceparentTest, RefusesMalformedValues) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",        // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",     // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     // zero span id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",  // v00 with extra
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",     // misplaced dash
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",     // not hex
           "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceparentTest, AcceptsAFutureVersionWithMoreFields) {
  auto ctx = ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future");
  ASSERT_TRUE(ctx.has_value());
  // Re-emitted as the version we speak.
  EXPECT_EQ(FormatTraceparent(*ctx), kExample);
  EXPECT_FALSE(
      ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").has_value());
}

TEST(TraceparentTest, TraceIdOf) {
  EXPECT_EQ(TraceIdOf(kExample), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(TraceIdOf("garbage"), "");
}

TEST(TraceparentTest, NewRootAndChildren) {
  std::set<std::string> traces;
  std::set<std::string> spans;
  for (int i = 0; i < 100; ++i) {
    SpanContext root = NewRoot();
    EXPECT_TRUE(root.sampled());
    ASSERT_TRUE(ParseTraceparent(FormatTraceparent(root)).has_value());
    SpanContext child = ChildOf(root);
    EXPECT_EQ(child.trace_id, root.trace_id);
    EXPECT_NE(child.span_id, root.span_id);
    traces.insert(root.TraceIdHex());
    spans.insert(root.SpanIdHex());
    spans.insert(child.SpanIdHex());
  }
  EXPECT_EQ(traces.size(), 100u);
  EXPECT_EQ(spans.size(), 200u);
}

TEST(TracestateTest, ValidatesAndNormalizes) {
  EXPECT_EQ(ParseTracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(ParseTracestate("tenant@vendor=x,,"), "tenant@vendor=x");
  EXPECT_EQ(ParseTracestate(""), "");
  EXPECT_FALSE(ParseTracestate("Upper=1").has_value());
  EXPECT_FALSE(ParseTracestate("novalue").has_value());
  EXPECT_FALSE(ParseTracestate("a=b=c").has_value());
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_FALSE(ParseTracestate(many).has_value());
}

}  // namespace
}  // namespace hg::trace
