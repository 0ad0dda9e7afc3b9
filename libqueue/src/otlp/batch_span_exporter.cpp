#include "batch_span_exporter.h"

#include "otlp_http.h"

#include <wfq/log.h>
#include <wfq/process_runner.h>

#include <algorithm>
#include <random>

namespace wfq::otlp {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

bool retryable(long status) { return status == 0 || status == 429 || status == 502 || status == 503 || status == 504; }

std::string describe(const HttpAnswer& a) {
    if (a.status == 0) return a.error;
    std::string body = a.body.substr(0, 200);
    for (char& c : body)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return "HTTP " + std::to_string(a.status) + (body.empty() ? "" : ": " + body);
}

}  // namespace

BatchSpanExporter::BatchSpanExporter(OtlpExportOptions options, Resource resource)
    : m_options(std::move(options)), m_resource(std::move(resource)) {
    log::debug("exporting spans over OTLP", {{"endpoint", m_options.endpoint},
                                            {"protocol", m_options.protocol == OtlpProtocol::http_json ? "http/json" : "http/protobuf"}});
    m_thread = std::thread([this] {
        name_this_thread("wfq-otlp");
        run();
    });
}

BatchSpanExporter::~BatchSpanExporter() { shutdown(); }

void BatchSpanExporter::add(const SpanRecord& span) {
    bool first_drop = false, batch_ready = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_queue.size() >= m_options.max_queue_size || m_stopping) {
            first_drop = m_dropped_queue_full.fetch_add(1) == 0;
        } else {
            m_queue.push_back(span);
            batch_ready = m_queue.size() == m_options.max_batch_size;
        }
    }
    if (batch_ready) m_wake.notify_one();
    if (first_drop)
        log::warn("OTLP span queue full: dropping spans (counted in wfq_otlp_spans_dropped_total)",
                  {{"endpoint", m_options.endpoint}, {"queue_size", std::to_string(m_options.max_queue_size)}});
}

void BatchSpanExporter::shutdown() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (!m_stopping) {
            m_stopping = true;
            m_deadline = steady_clock::now() + milliseconds(m_options.shutdown_deadline_ms);
        }
    }
    m_wake.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

TracerExportCounts BatchSpanExporter::counts() const {
    return {m_exported.load(), m_dropped_queue_full.load(), m_dropped_export_failed.load(), m_rejected.load()};
}

bool BatchSpanExporter::stopping() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_stopping;
}

bool BatchSpanExporter::past_deadline() {
    if (m_past_deadline.load(std::memory_order_relaxed)) return true;
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_stopping && steady_clock::now() >= m_deadline) m_past_deadline = true;
    return m_past_deadline;
}

bool BatchSpanExporter::pause(milliseconds ms) {
    std::unique_lock<std::mutex> lock(m_mutex);
    // Shutdown ends the wait: what is left gets one attempt each within the deadline.
    return !m_wake.wait_for(lock, ms, [&] { return m_stopping; });
}

void BatchSpanExporter::run() {
    auto next_flush = steady_clock::now() + milliseconds(m_options.schedule_delay_ms);
    for (;;) {
        std::vector<SpanRecord> batch;
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_wake.wait_until(lock, next_flush, [&] { return m_stopping || m_queue.size() >= m_options.max_batch_size; });
            if (m_stopping && (m_queue.empty() || steady_clock::now() >= m_deadline)) {
                m_dropped_export_failed += m_queue.size();  // left at the deadline
                m_queue.clear();
                break;
            }
            if (m_queue.size() < m_options.max_batch_size && !m_stopping && steady_clock::now() < next_flush) continue;
            std::size_t n = std::min(m_queue.size(), m_options.max_batch_size);
            batch.assign(std::make_move_iterator(m_queue.begin()), std::make_move_iterator(m_queue.begin() + static_cast<long>(n)));
            m_queue.erase(m_queue.begin(), m_queue.begin() + static_cast<long>(n));
            if (m_queue.size() < m_options.max_batch_size) next_flush = steady_clock::now() + milliseconds(m_options.schedule_delay_ms);
        }
        if (!batch.empty()) send(batch);
    }
    const auto c = counts();
    if (c.dropped_queue_full + c.dropped_export_failed > 0)
        log::warn("OTLP export dropped spans", {{"endpoint", m_options.endpoint},
                                                {"exported", std::to_string(c.exported)},
                                                {"dropped_queue_full", std::to_string(c.dropped_queue_full)},
                                                {"dropped_export_failed", std::to_string(c.dropped_export_failed)}});
}

void BatchSpanExporter::send(std::vector<SpanRecord>& batch) {
    const bool json = m_options.protocol == OtlpProtocol::http_json;
    const std::string body = json ? encode_json(batch, m_resource) : encode_protobuf(batch, m_resource);
    const char* type = json ? "application/json" : "application/x-protobuf";
    thread_local HttpPoster poster;
    thread_local std::minstd_rand jitter(std::random_device{}());
    std::string last;
    for (int attempt = 1; attempt <= m_options.max_attempts; ++attempt) {
        long timeout = m_options.timeout_ms;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_stopping) {
                auto left = std::chrono::duration_cast<milliseconds>(m_deadline - steady_clock::now()).count();
                if (left <= 0) break;
                timeout = std::min<long>(timeout, left);
            }
        }
        HttpAnswer answer = poster.post(m_options.endpoint, body, type, m_options.headers, timeout, [this] { return past_deadline(); });
        if (answer.status >= 200 && answer.status < 300) {
            std::int64_t rejected = std::clamp<std::int64_t>(rejected_spans(answer.body, m_options.protocol), 0, static_cast<std::int64_t>(batch.size()));
            m_rejected += static_cast<std::uint64_t>(rejected);
            m_exported += batch.size() - static_cast<std::size_t>(rejected);
            if (m_failing) log::info("OTLP export recovered", {{"endpoint", m_options.endpoint}});
            m_failing = false;
            return;
        }
        last = describe(answer);
        // At shutdown a batch gets no retry: a command's exit waits for a dead collector no longer.
        if (!retryable(answer.status) || attempt == m_options.max_attempts || stopping()) break;
        // Exponential backoff from 1 s (at most 30 s) with jitter, unless the collector said when.
        long wait_ms = answer.retry_after_s ? std::min(*answer.retry_after_s, 300) * 1000L
                                            : std::min(30000L, 1000L << (attempt - 1)) / 2 +
                                                  static_cast<long>(jitter() % static_cast<unsigned>(std::min(30000L, 1000L << (attempt - 1)) / 2 + 1));
        if (!pause(milliseconds(wait_ms))) break;
    }
    m_dropped_export_failed += batch.size();
    if (!m_failing)
        log::warn("OTLP export failed: spans dropped (counted in wfq_otlp_spans_dropped_total)",
                  {{"endpoint", m_options.endpoint}, {"error", last}, {"spans", std::to_string(batch.size())}});
    m_failing = true;
}

}  // namespace wfq::otlp
