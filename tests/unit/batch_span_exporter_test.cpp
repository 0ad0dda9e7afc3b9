// The batch span processor (libqueue/src/otlp/batch_span_exporter.cpp) on a ManualClock: batches
// by size and by time, drops counted when the queue is full, backoff as Retry-After says, the
// export timeout, and the flush at exit within its deadline. The requests go to a recorder in
// place of the collector (HTTP itself is tested against real collectors in tests/cli/test_otlp_*).
#include "otlp/batch_span_exporter.h"

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <vector>

namespace wfq::otlp {
namespace {

SpanRecord span(int i) {
    SpanRecord s;
    s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    char id[17];
    std::snprintf(id, sizeof id, "%016x", i + 1);
    s.span_id = id;
    s.name = "span " + std::to_string(i);
    s.start_ns = 1;
    s.end_ns = 2;
    return s;
}

// A collector that answers from a script (200 once it runs out) and records what it was sent:
// the spans of each request and the timeout it was given. Each request takes `takes_ms` of the
// manual clock; each pause moves it by the time asked.
struct Collector {
    ManualClock clock;
    std::deque<HttpAnswer> script;
    std::vector<std::size_t> batches;  // spans per request
    std::vector<long> timeouts;
    std::vector<std::int64_t> pauses;
    std::int64_t takes_ms = 0;

    BatchSpanExporter::Hooks hooks() {
        BatchSpanExporter::Hooks h;
        h.clock = &clock;
        h.post = [this](const std::string& body, long timeout_ms) {
            opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
            EXPECT_TRUE(request.ParseFromString(body));
            batches.push_back(static_cast<std::size_t>(request.resource_spans(0).scope_spans(0).spans_size()));
            timeouts.push_back(timeout_ms);
            clock.advance_ms(takes_ms);
            if (script.empty()) return HttpAnswer{200, "", std::nullopt, ""};
            HttpAnswer a = script.front();
            script.pop_front();
            return a;
        };
        h.pause = [this](std::int64_t ms) {
            pauses.push_back(ms);
            clock.advance_ms(ms);
            return true;
        };
        return h;
    }
};

OtlpExportOptions options() {
    OtlpExportOptions o;
    o.endpoint = "http://collector.invalid/v1/traces";
    o.max_batch_size = 3;
    o.max_queue_size = 5;
    o.schedule_delay_ms = 1000;
    o.timeout_ms = 10000;
    o.export_timeout_ms = 30000;
    o.shutdown_deadline_ms = 5000;
    return o;
}

HttpAnswer answer(long status, std::optional<int> retry_after = std::nullopt) { return {status, "", retry_after, ""}; }

TEST(BatchSpanExporter, SendsABatchWhenItIsFullAndTheRestWhenTheDelayHasPassed) {
    Collector c;
    BatchSpanExporter e(options(), {}, c.hooks());
    for (int i = 0; i < 4; ++i) e.add(span(i));
    e.run_once();  // three wait: a full batch goes at once
    EXPECT_EQ(c.batches, (std::vector<std::size_t>{3}));
    e.run_once();  // one waits, and the delay has not passed
    EXPECT_EQ(c.batches.size(), 1u);
    c.clock.advance_ms(999);
    e.run_once();
    EXPECT_EQ(c.batches.size(), 1u);
    c.clock.advance_ms(1);
    e.run_once();
    EXPECT_EQ(c.batches, (std::vector<std::size_t>{3, 1}));
    EXPECT_EQ(e.counts().exported, 4u);
    EXPECT_EQ(c.pauses.size(), 0u);
}

TEST(BatchSpanExporter, AFullQueueDropsAndCountsWithoutWaiting) {
    Collector c;
    BatchSpanExporter e(options(), {}, c.hooks());
    for (int i = 0; i < 8; ++i) e.add(span(i));  // the queue holds 5
    EXPECT_EQ(e.counts().dropped_queue_full, 3u);
    e.run_once();
    e.run_once();
    c.clock.advance_ms(1000);
    e.run_once();
    EXPECT_EQ(c.batches, (std::vector<std::size_t>{3, 2}));
    EXPECT_EQ(e.counts().exported, 5u);
}

TEST(BatchSpanExporter, RetriesAfterWhatRetryAfterSaysAndWithBackoffOtherwise) {
    Collector c;
    c.script = {answer(429, 7), answer(503), answer(0), answer(200)};
    BatchSpanExporter e(options(), {}, c.hooks());
    for (int i = 0; i < 3; ++i) e.add(span(i));
    e.run_once();
    EXPECT_EQ(c.batches, (std::vector<std::size_t>{3, 3, 3, 3}));
    ASSERT_EQ(c.pauses.size(), 3u);
    EXPECT_EQ(c.pauses[0], 7000);  // Retry-After: 7
    EXPECT_GE(c.pauses[1], 1000);  // the second attempt's backoff: 1-2 s with jitter
    EXPECT_LE(c.pauses[1], 2000);
    EXPECT_GE(c.pauses[2], 2000);  // then 2-4 s
    EXPECT_LE(c.pauses[2], 4000);
    EXPECT_EQ(e.counts().exported, 3u);
    EXPECT_EQ(e.counts().dropped_export_failed, 0u);
}

TEST(BatchSpanExporter, ARefusalIsNotRetriedAndFiveFailuresDropTheBatch) {
    Collector c;
    c.script = {answer(400)};
    BatchSpanExporter e(options(), {}, c.hooks());
    for (int i = 0; i < 3; ++i) e.add(span(i));
    e.run_once();
    EXPECT_EQ(c.batches.size(), 1u);
    EXPECT_EQ(e.counts().dropped_export_failed, 3u);
    c.script = {answer(503), answer(503), answer(503), answer(503), answer(503)};
    for (int i = 0; i < 3; ++i) e.add(span(i));
    e.run_once();
    EXPECT_EQ(c.batches.size(), 6u);  // max_attempts 5
    EXPECT_EQ(c.pauses.size(), 4u);
    EXPECT_EQ(e.counts().dropped_export_failed, 6u);
}

TEST(BatchSpanExporter, TheExportTimeoutBoundsABatchWithItsRetries) {
    Collector c;
    OtlpExportOptions o = options();
    o.export_timeout_ms = 12000;
    c.takes_ms = 4000;  // a slow collector
    c.script = {answer(503, 1), answer(503, 1), answer(503, 1)};
    BatchSpanExporter e(o, {}, c.hooks());
    for (int i = 0; i < 3; ++i) e.add(span(i));
    e.run_once();
    // 0: 4 s, pause 1 s; 5 s: a request may take only the 7 s left; 9 s: pause to 10 s; 10 s: 2 s left;
    // at 14 s the next pause would start after the export's time is up: the batch is dropped.
    EXPECT_EQ(c.timeouts, (std::vector<long>{10000, 7000, 2000}));
    EXPECT_EQ(c.pauses, (std::vector<std::int64_t>{1000, 1000}));
    EXPECT_EQ(e.counts().dropped_export_failed, 3u);
    EXPECT_EQ(e.counts().exported, 0u);
}

TEST(BatchSpanExporter, ShutdownSendsWhatIsLeftOnceEachWithinItsDeadline) {
    Collector c;
    OtlpExportOptions o = options();
    o.max_queue_size = 9;
    c.takes_ms = 3000;
    c.script = {answer(503), answer(0)};  // down: no retry at exit
    BatchSpanExporter e(o, {}, c.hooks());
    for (int i = 0; i < 9; ++i) e.add(span(i));
    e.shutdown();
    // The deadline is 5 s: the first batch may take all of it, the second what is left, the
    // third comes too late and is dropped with the rest.
    EXPECT_EQ(c.timeouts, (std::vector<long>{5000, 2000}));
    EXPECT_TRUE(c.pauses.empty());
    EXPECT_EQ(e.counts().dropped_export_failed, 9u);
    e.add(span(1));  // after shutdown: dropped, never queued
    EXPECT_EQ(e.counts().dropped_queue_full, 1u);
    e.shutdown();  // idempotent
    EXPECT_EQ(c.batches.size(), 2u);
}

TEST(BatchSpanExporter, ShutdownDeliversWhatIsQueuedToAHealthyCollector) {
    Collector c;
    BatchSpanExporter e(options(), {}, c.hooks());
    for (int i = 0; i < 5; ++i) e.add(span(i));
    e.shutdown();
    EXPECT_EQ(c.batches, (std::vector<std::size_t>{3, 2}));
    EXPECT_EQ(e.counts().exported, 5u);
}

}  // namespace
}  // namespace wfq::otlp
