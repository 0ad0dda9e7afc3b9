#include "reporter.h"

#include "statsd_sink.h"

#include <wfq/duration.h>
#include <wfq/file.h>
#include <wfq/log.h>

#include <nlohmann/json.hpp>

namespace wfq::engine {

Reporter::Reporter(SlotTable& table, WorkerMetrics& metrics, ConfigCache* cache, Tracer& tracer, Clock& clock,
                   std::string metrics_file, std::string worker_id, StatsdSink* statsd)
    : m_table(table), m_metrics(metrics), m_cache(cache), m_tracer(tracer), m_clock(clock),
      m_metrics_file(std::move(metrics_file)), m_worker_id(std::move(worker_id)), m_statsd(statsd) {}

// The slot's fields, then what the attempt adds: its trace and, for a failed attempt, what ended it
// (an exit code only when the process exited with one: not -1 for a timeout, nor 0 for a
// stream handler's answer).
log::Fields Reporter::fields_of(const Slot& slot, const Verdict& verdict, const Outcome* o) const {
    log::Fields fields;
    fields.reserve(slot.fields.size() + 5);
    fields = slot.fields;
    if (!verdict.trace_id.empty()) fields.emplace_back("trace_id", verdict.trace_id);
    if (o && (o->kind == Outcome::Kind::retry || o->kind == Outcome::Kind::failed)) {
        if (o->exit_code) fields.emplace_back("exit_code", std::to_string(*o->exit_code));
        if (!o->ended_by.empty()) fields.emplace_back("ended_by", o->ended_by);
    }
    return fields;
}

void Reporter::recorded(const Finished& finished, const Outcome& o, OutcomeStatus status, bool unknown) {
    const Verdict& v = finished.verdict;
    const Decision decision = status == OutcomeStatus::lost ? Decision::lost : v.decision;
    // The happy path: the log line only when it is shown (this runs on the completer's thread).
    if (status == OutcomeStatus::recorded && decision == Decision::completed && !log::enabled(log::Level::info)) {
        finish(*finished.slot, o.job.id, decision, v);
        return;
    }
    log::Fields fields = fields_of(*finished.slot, v, &o);
    if (status == OutcomeStatus::lost) {
        log::warn(unknown ? "job finished but its outcome could not be recorded; it will be rescued"
                          : "job finished but its lease was lost; outcome not recorded",
                  fields);
    } else if (status == OutcomeStatus::resumed) {
        log::info("job resumed at once: its signal was already stored", fields);
    } else {
        if (!v.error_class.empty()) fields.emplace_back("error_class", v.error_class);
        switch (decision) {
            case Decision::completed:
                log::info("job completed", fields);
                break;
            case Decision::retried:
                fields.emplace_back("retry_in", format_duration_ms(o.delay_ms));
                log::warn("job failed; retry scheduled", fields);
                m_table.retrying(o.job.id, m_clock.steady_ns() / 1'000'000 + o.delay_ms);
                break;
            case Decision::failed:
                log::error(v.permanent ? "job failed permanently" : "job failed; attempts exhausted", fields);
                break;
            case Decision::snoozed:
                fields.emplace_back("snooze", format_duration_ms(o.delay_ms));
                log::info("job snoozed", fields);
                break;
            case Decision::parked:
                log::info("job waiting for an event", fields);
                break;
            case Decision::deferred:
                log::info("job deferred: " + o.message, fields);
                break;
            case Decision::released:
                log::warn("job given back unfinished", fields);
                break;
            case Decision::lost:
                break;
        }
    }
    finish(*finished.slot, o.job.id, decision, v);
}

void Reporter::lost(const Slot& slot, const Verdict& verdict) {
    log::warn("job stopped: its lease was lost (rescued, cancelled or taken over)", fields_of(slot, verdict, nullptr));
    finish(slot, slot.ref.id, Decision::lost, verdict);
}

void Reporter::finish(const Slot& slot, std::int64_t job_id, Decision decision, const Verdict& verdict) {
    m_metrics.job_finished(decision_name(decision), verdict.seconds);
    if (m_statsd) {
        static const std::string none;
        const std::string* type = &none;
        for (const auto& [k, v] : slot.fields)
            if (k == "type") type = &v;
        m_statsd->job_finished(*type, decision_name(decision), verdict.seconds);
    }
    for (double s : verdict.stage_seconds) m_metrics.stage_finished(s);
    m_table.finish(job_id, decision);
}

void Reporter::rescued(const RescueReport& report) {
    const auto n = static_cast<std::int64_t>(report.requeued.size() + report.failed.size());
    m_metrics.rescued(n);
    if (m_statsd) m_statsd->rescued(n);
    m_table.add_rescued(n);
    for (auto id : report.requeued) log::warn("rescued job", {{"job_id", std::to_string(id)}, {"to", "pending"}});
    for (auto id : report.failed) log::warn("rescued job", {{"job_id", std::to_string(id)}, {"to", "failed"}});
}

std::string Reporter::stats_json() {
    const WorkerStats s = m_table.stats();
    nlohmann::json j{{"claimed", s.claimed},   {"completed", s.completed}, {"retried", s.retried},
                     {"failed", s.failed},     {"released", s.released},   {"lost", s.lost},
                     {"rescued", s.rescued},   {"snoozed", s.snoozed},     {"parked", s.parked},
                     {"deferred", s.deferred}};
    if (m_cache) j["cache"] = nlohmann::json::parse(m_cache->stats().to_json());
    return j.dump();
}

void Reporter::batch_reported() {
    if (m_statsd) m_statsd->flush();
}

std::string Reporter::exporter_metrics() const {
    if (!m_tracer.exporting_to_collector()) return "";
    const TracerExportCounts c = m_tracer.export_counts();
    const std::string worker = prometheus_label(m_worker_id);
    return "# HELP wfq_otlp_spans_exported_total Spans the OTLP exporter delivered to the collector.\n"
           "# TYPE wfq_otlp_spans_exported_total counter\n"
           "wfq_otlp_spans_exported_total{worker=\"" + worker + "\"} " + std::to_string(c.exported) + "\n"
           "# HELP wfq_otlp_spans_dropped_total Spans the OTLP exporter gave up: its queue was full, the collector "
           "refused them or did not answer after the retries, or it rejected them in a partial success.\n"
           "# TYPE wfq_otlp_spans_dropped_total counter\n"
           "wfq_otlp_spans_dropped_total{worker=\"" + worker + "\",reason=\"queue_full\"} " + std::to_string(c.dropped_queue_full) + "\n"
           "wfq_otlp_spans_dropped_total{worker=\"" + worker + "\",reason=\"export_failed\"} " + std::to_string(c.dropped_export_failed) + "\n"
           "wfq_otlp_spans_dropped_total{worker=\"" + worker + "\",reason=\"rejected\"} " + std::to_string(c.rejected) + "\n";
}

std::string Reporter::scrape() {
    std::string out = m_metrics.render(m_worker_id, m_cache ? m_cache->stats() : CacheStats{}) + exporter_metrics();
    out += "# HELP wfq_worker_jobs_held Jobs this worker holds now: running, or claimed and waiting for a handler.\n"
           "# TYPE wfq_worker_jobs_held gauge\n"
           "wfq_worker_jobs_held{worker=\"" + prometheus_label(m_worker_id) + "\"} " + std::to_string(m_table.held()) + "\n";
    std::lock_guard<std::mutex> lock(m_gauges_mutex);
    return out + m_queue_gauges;
}

void Reporter::set_queue_gauges(std::string text) {
    std::lock_guard<std::mutex> lock(m_gauges_mutex);
    m_queue_gauges = std::move(text);
}

void Reporter::flush() {
    if (m_statsd) m_statsd->flush();
    try {
        m_tracer.flush();
    } catch (const std::exception& e) {
        log::warn(std::string("could not write spans: ") + e.what());
    }
    if (m_metrics_file.empty()) return;
    try {
        write_file_atomically(m_metrics_file, m_metrics.render(m_worker_id, m_cache ? m_cache->stats() : CacheStats{}) + exporter_metrics());
    } catch (const std::exception& e) {
        log::warn(std::string("cannot write the metrics file: ") + e.what());
    }
}

}  // namespace wfq::engine
