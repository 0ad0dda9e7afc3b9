// W3C trace context: traceparent and tracestate headers (libqueue/src/trace.cpp).
#include <wfq/trace.h>

#include <gtest/gtest.h>

namespace wfq {
namespace {

TEST(Traceparent, AcceptsTheSpecExamples) {
    auto ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_TRUE(ctx);
    EXPECT_EQ(ctx->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(ctx->span_id, "00f067aa0ba902b7");
    EXPECT_TRUE(ctx->sampled());
    EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled());
    // A future version may carry more fields.
    EXPECT_TRUE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future"));
    EXPECT_EQ(ctx->to_traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(Traceparent, RejectsInvalidHeaders) {
    for (const char* bad : {
             "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
             "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
             "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
             "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
             "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
             "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x"})
        EXPECT_FALSE(parse_traceparent(bad)) << bad;
}

TEST(Tracestate, ValidatesMembers) {
    EXPECT_TRUE(valid_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    EXPECT_TRUE(valid_tracestate("tenant@vendor=x"));
    EXPECT_FALSE(valid_tracestate("Rojo=1"));
    EXPECT_FALSE(valid_tracestate("novalue="));
    EXPECT_FALSE(valid_tracestate("=x"));
}

}  // namespace
}  // namespace wfq
