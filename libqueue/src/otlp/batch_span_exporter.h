#pragma once
// Internal: the batch span processor the OpenTelemetry SDKs have, in front of OTLP/HTTP. A
// bounded queue (spans beyond it are dropped and counted, never waited for), a thread that
// sends a batch when max_batch_size spans wait or schedule_delay_ms passes, retries with
// exponential backoff on 429/502/503/504 and network errors (Retry-After honoured), and a
// flush at shutdown: one attempt per batch left, giving up at its deadline.
#include "otlp_encode.h"

#include <wfq/otlp_config.h>
#include <wfq/trace.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

namespace wfq::otlp {

class BatchSpanExporter {
public:
    BatchSpanExporter(OtlpExportOptions options, Resource resource);
    ~BatchSpanExporter();

    // Queues a span for export; when the queue is full the span is dropped and counted.
    void add(const SpanRecord& span);
    // Sends what is queued within the shutdown deadline, then stops the thread. Idempotent.
    void shutdown();
    TracerExportCounts counts() const;

private:
    void run();
    // Sends one batch with its retries; counts it exported or dropped.
    void send(std::vector<SpanRecord>& batch);
    // Waits up to ms; false when shutdown cut the wait short.
    bool pause(std::chrono::milliseconds ms);
    bool stopping();
    bool past_deadline();

    const OtlpExportOptions m_options;
    const Resource m_resource;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<SpanRecord> m_queue;
    bool m_stopping = false;
    std::chrono::steady_clock::time_point m_deadline;
    std::atomic<bool> m_past_deadline{false};  // read by a request in flight, to abandon it
    std::atomic<std::uint64_t> m_exported{0}, m_dropped_queue_full{0}, m_dropped_export_failed{0}, m_rejected{0};
    bool m_failing = false;  // the last batch failed: log the next success once
    std::thread m_thread;
};

}  // namespace wfq::otlp
