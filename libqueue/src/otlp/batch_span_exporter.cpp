#include "batch_span_exporter.h"

#include "otlp_http.h"

#include <wfq/log.h>
#include <wfq/process_runner.h>

#include <algorithm>
#include <chrono>
#include <random>

namespace wfq::otlp {
namespace {

bool retryable(long status) { return status == 0 || status == 429 || status == 502 || status == 503 || status == 504; }

std::string describe(const HttpAnswer& a) {
    if (a.status == 0) return a.error;
    std::string body = a.body.substr(0, 200);
    for (char& c : body)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return "HTTP " + std::to_string(a.status) + (body.empty() ? "" : ": " + body);
}

}  // namespace

BatchSpanExporter::BatchSpanExporter(OtlpExportOptions options, Resource resource, Hooks hooks)
    : m_options(std::move(options)), m_resource(std::move(resource)), m_hooks(std::move(hooks)),
      m_clock(m_hooks.clock ? *m_hooks.clock : SystemClock::instance()) {
    m_next_flush_ms = now_ms() + m_options.schedule_delay_ms;
    log::debug("exporting spans over OTLP", {{"endpoint", m_options.endpoint},
                                            {"protocol", m_options.protocol == OtlpProtocol::http_json ? "http/json" : "http/protobuf"}});
    if (m_hooks.clock) return;  // driven by the caller
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
            m_deadline_ms = now_ms() + m_options.shutdown_deadline_ms;
        }
    }
    m_wake.notify_all();
    if (m_thread.joinable()) {
        m_thread.join();
        return;
    }
    if (!m_hooks.clock) return;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_stopped) return;
    }
    while (step(false)) {
    }
    log_totals();
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
    if (m_stopping && now_ms() >= m_deadline_ms) m_past_deadline = true;
    return m_past_deadline;
}

bool BatchSpanExporter::pause(std::int64_t ms) {
    if (m_hooks.pause) return m_hooks.pause(ms);
    std::unique_lock<std::mutex> lock(m_mutex);
    // Shutdown ends the wait: what is left gets one attempt each within the deadline.
    return !m_wake.wait_for(lock, std::chrono::milliseconds(ms), [&] { return m_stopping; });
}

HttpAnswer BatchSpanExporter::post(const std::string& body, const char* type, long timeout_ms) {
    if (m_hooks.post) return m_hooks.post(body, timeout_ms);
    thread_local HttpPoster poster;
    return poster.post(m_options.endpoint, body, type, m_options.headers, timeout_ms, [this] { return past_deadline(); });
}

void BatchSpanExporter::run() {
    while (step(true)) {
    }
    log_totals();
}

bool BatchSpanExporter::step(bool wait) {
    std::vector<SpanRecord> batch;
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        if (m_stopped) return false;
        auto due = [&] { return m_stopping || m_queue.size() >= m_options.max_batch_size || now_ms() >= m_next_flush_ms; };
        if (wait && !due()) m_wake.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(0, m_next_flush_ms - now_ms())), due);
        if (m_stopping && (m_queue.empty() || now_ms() >= m_deadline_ms)) {
            m_dropped_export_failed += m_queue.size();  // left at the deadline
            m_queue.clear();
            m_stopped = true;
            return false;
        }
        if (!due()) return true;
        std::size_t n = std::min(m_queue.size(), m_options.max_batch_size);
        batch.assign(std::make_move_iterator(m_queue.begin()), std::make_move_iterator(m_queue.begin() + static_cast<long>(n)));
        m_queue.erase(m_queue.begin(), m_queue.begin() + static_cast<long>(n));
        if (m_queue.size() < m_options.max_batch_size) m_next_flush_ms = now_ms() + m_options.schedule_delay_ms;
    }
    if (!batch.empty()) send(batch);
    return true;
}

void BatchSpanExporter::log_totals() {
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
    thread_local std::minstd_rand jitter(std::random_device{}());
    const std::int64_t export_end_ms = now_ms() + m_options.export_timeout_ms;  // OTEL_BSP_EXPORT_TIMEOUT
    std::string last;
    for (int attempt = 1; attempt <= m_options.max_attempts; ++attempt) {
        long timeout = std::min<long>(m_options.timeout_ms, static_cast<long>(export_end_ms - now_ms()));
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_stopping) timeout = std::min<long>(timeout, static_cast<long>(m_deadline_ms - now_ms()));
        }
        if (timeout <= 0) {
            if (last.empty()) last = "no time left to send it";
            break;
        }
        HttpAnswer answer = post(body, type, timeout);
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
        const long cap = std::min(30000L, 1000L << (attempt - 1));
        long wait_ms = answer.retry_after_s ? std::min(*answer.retry_after_s, 300) * 1000L
                                            : cap / 2 + static_cast<long>(jitter() % static_cast<unsigned>(cap / 2 + 1));
        if (now_ms() + wait_ms >= export_end_ms) {  // the retry would start after the export's time is up
            last += " (no retry within OTEL_BSP_EXPORT_TIMEOUT)";
            break;
        }
        if (!pause(wait_ms)) break;
    }
    m_dropped_export_failed += batch.size();
    if (!m_failing)
        log::warn("OTLP export failed: spans dropped (counted in wfq_otlp_spans_dropped_total)",
                  {{"endpoint", m_options.endpoint}, {"error", last}, {"spans", std::to_string(batch.size())}});
    m_failing = true;
}

}  // namespace wfq::otlp
