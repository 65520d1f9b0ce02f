#include "telemetry/tracer.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace hg::trace {
namespace {

class CollectingSink final : public SpanSink {
 public:
  void Submit(SpanData span) override {
    absl::MutexLock lock(&mu_);
    spans_.push_back(std::move(span));
  }
  std::vector<SpanData> spans() {
    absl::MutexLock lock(&mu_);
    return spans_;
  }

 private:
  absl::Mutex mu_;
  std::vector<SpanData> spans_;
};

constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TracerTest, ChildSpanRecordsParentTimesAttributesAndStatus) {
  FakeClock clock;
  CollectingSink sink;
  Tracer tracer(clock, &sink);
  const absl::Time start = clock.Now();
  {
    Span span = tracer.StartSpan("GET /jobs/{name}", SpanKind::kServer, kParent, "rojo=1");
    EXPECT_TRUE(span.recording());
    EXPECT_EQ(span.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_NE(span.traceparent(), kParent);
    span.SetAttribute("http.route", "/jobs/{name}");
    span.SetAttribute("http.status_code", int64_t{404});
    span.SetAttribute("http.status_code", int64_t{500});  // replaced, not duplicated
    span.SetError("boom");
    clock.Advance(absl::Milliseconds(250));
  }  // destructor ends it
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 1u);
  const SpanData& s = spans[0];
  EXPECT_EQ(s.name, "GET /jobs/{name}");
  EXPECT_EQ(s.kind, SpanKind::kServer);
  EXPECT_EQ(ToHex(s.trace_id.data(), 16), "4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_TRUE(s.parent_span_id.has_value());
  EXPECT_EQ(ToHex(s.parent_span_id->data(), 8), "00f067aa0ba902b7");
  EXPECT_EQ(s.tracestate, "rojo=1");
  EXPECT_EQ(s.start, start);
  EXPECT_EQ(s.end, start + absl::Milliseconds(250));
  ASSERT_EQ(s.attributes.size(), 2u);
  EXPECT_EQ(std::get<int64_t>(s.attributes[1].second), 500);
  EXPECT_EQ(s.status, SpanStatus::kError);
  EXPECT_EQ(s.status_message, "boom");
}

TEST(TracerTest, EndIsIdempotentAndMovesDoNotDuplicate) {
  FakeClock clock;
  CollectingSink sink;
  Tracer tracer(clock, &sink);
  Span a = tracer.StartSpan("a", SpanKind::kInternal, std::nullopt);
  EXPECT_FALSE(a.context().trace_id == TraceId{});
  Span b = std::move(a);
  b.End();
  b.End();
  EXPECT_EQ(sink.spans().size(), 1u);
  EXPECT_TRUE(sink.spans()[0].parent_span_id == std::nullopt);
}

TEST(TracerTest, MalformedParentStartsANewTrace) {
  FakeClock clock;
  Tracer tracer(clock, nullptr);
  Span span = tracer.StartSpan("x", SpanKind::kInternal, "not-a-traceparent");
  EXPECT_TRUE(span.has_context());
  EXPECT_FALSE(span.recording());  // no sink: propagates, records nothing
  EXPECT_EQ(span.trace_id().size(), 32u);
}

TEST(TracerTest, UnsampledParentIsPropagatedNotRecorded) {
  FakeClock clock;
  CollectingSink sink;
  Tracer tracer(clock, &sink);
  {
    Span span = tracer.StartSpan("x", SpanKind::kInternal,
                                 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    EXPECT_FALSE(span.recording());
    EXPECT_TRUE(span.traceparent().ends_with("-00"));
  }
  EXPECT_TRUE(sink.spans().empty());
}

TEST(TracerTest, NullTracerPassesTheParentThrough) {
  Span span = StartSpan(nullptr, "x", SpanKind::kInternal, kParent);
  EXPECT_FALSE(span.recording());
  EXPECT_EQ(span.traceparent(), kParent);
  Span none = StartSpan(nullptr, "x", SpanKind::kInternal, "");
  EXPECT_EQ(none.traceparent(), "");
  EXPECT_EQ(none.trace_id(), "");
}

}  // namespace
}  // namespace hg::trace
