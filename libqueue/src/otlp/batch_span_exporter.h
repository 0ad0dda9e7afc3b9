#pragma once
// Internal: the batch span processor the OpenTelemetry SDKs have, in front of OTLP/HTTP. A
// bounded queue (spans beyond it are dropped and counted, never waited for), a thread that
// sends a batch when max_batch_size spans wait or schedule_delay_ms passes, retries with
// exponential backoff on 429/502/503/504 and network errors (Retry-After honoured) within
// export_timeout_ms per batch, and a flush at shutdown: one attempt per batch left, giving up
// at its deadline. Time, the pauses between attempts and the request come through Hooks, so
// tests drive it on a ManualClock without sleeping.
#include "otlp_encode.h"
#include "otlp_http.h"

#include <wfq/clock.h>
#include <wfq/otlp_config.h>
#include <wfq/trace.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace wfq::otlp {

// What a BatchSpanExporter takes from outside: time, the pause between attempts, the request.
struct ExporterHooks {
    // Null: the system clock and a thread of the exporter's own. Set (tests): no thread; the
    // caller drives the exporter with run_once() and shutdown().
    Clock* clock = nullptr;
    // Sends one request's body (timeout_ms: the most it may take); empty: HTTP with libcurl.
    std::function<HttpAnswer(const std::string& body, long timeout_ms)> post;
    // Waits ms before a retry; false when shutdown cut the wait short. Empty: waits on the
    // exporter's condition variable (shutdown wakes it).
    std::function<bool(std::int64_t ms)> pause;
};

class BatchSpanExporter {
public:
    using Hooks = ExporterHooks;

    BatchSpanExporter(OtlpExportOptions options, Resource resource, Hooks hooks = {});
    ~BatchSpanExporter();

    // Queues a span for export; when the queue is full the span is dropped and counted.
    void add(const SpanRecord& span);
    // Sends what is queued within the shutdown deadline, then stops the thread. Idempotent.
    void shutdown();
    TracerExportCounts counts() const;
    // Without a thread (Hooks::clock set): sends the batch that is due at the clock's time, if
    // one is (max_batch_size spans wait, or schedule_delay_ms has passed since the last batch).
    void run_once() { step(false); }

private:
    void run();
    // One turn of the loop (wait: for a batch to be due, on the condition variable): sends the
    // batch that is due; false once stopped and drained (or past the shutdown deadline).
    bool step(bool wait);
    // Sends one batch with its retries; counts it exported or dropped.
    void send(std::vector<SpanRecord>& batch);
    HttpAnswer post(const std::string& body, const char* type, long timeout_ms);
    bool pause(std::int64_t ms);
    bool stopping();
    bool past_deadline();
    std::int64_t now_ms() const { return m_clock.steady_ns() / 1'000'000; }
    void log_totals();

    const OtlpExportOptions m_options;
    const Resource m_resource;
    Hooks m_hooks;
    Clock& m_clock;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<SpanRecord> m_queue;
    bool m_stopping = false;
    bool m_stopped = false;
    std::int64_t m_deadline_ms = 0;  // the shutdown's, on m_clock
    std::int64_t m_next_flush_ms = 0;
    std::atomic<bool> m_past_deadline{false};  // read by a request in flight, to abandon it
    std::atomic<std::uint64_t> m_exported{0}, m_dropped_queue_full{0}, m_dropped_export_failed{0}, m_rejected{0};
    bool m_failing = false;  // the last batch failed: log the next success once
    std::thread m_thread;
};

}  // namespace wfq::otlp
