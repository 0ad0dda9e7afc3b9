#pragma once
// Internal: the reporter says what became of each attempt: the log line, the worker's stats
// (counted in the slot table) and metrics; the heartbeat's stats document; the spans flushed
// and the metrics file written on the maintenance timer and at exit.
#include "completer.h"
#include "slot_table.h"

#include <wfq/config_cache.h>
#include <wfq/metrics.h>
#include <wfq/trace.h>

#include <mutex>
#include <string>

namespace wfq::engine {

class StatsdSink;

class Reporter {
public:
    Reporter(SlotTable& table, WorkerMetrics& metrics, ConfigCache* cache, Tracer& tracer, Clock& clock,
             std::string metrics_file, std::string worker_id, StatsdSink* statsd = nullptr);

    // The completer's report on one attempt: recorded (or lost, unknown: its fate could not be
    // learned). Runs on the completer's thread; frees the job's slot.
    void recorded(const Finished& finished, const Outcome& outcome, OutcomeStatus status, bool unknown);
    // An attempt with nothing to record (its lease is gone): frees the job's slot.
    void lost(const Slot& slot, const Verdict& verdict);
    void rescued(const RescueReport& report);
    // The worker's counts (and the config cache's) as the heartbeat stores them.
    std::string stats_json();
    // Exports the spans waiting and writes the metrics file (logs, never throws).
    void flush();
    // After each completer batch: sends the StatsD lines of its outcomes.
    void batch_reported();
    // The text /metrics serves: the worker's counters, the jobs it holds, and the queue gauges
    // last set (memory only: a scrape never calls the database).
    std::string scrape();
    void set_queue_gauges(std::string text);

private:
    // The OTLP exporter's counters as Prometheus text (empty without a collector).
    std::string exporter_metrics() const;
    void finish(const Slot& slot, std::int64_t job_id, Decision decision, const Verdict& verdict);
    // outcome: what was recorded (the completer took it out of the verdict); null when nothing was.
    log::Fields fields_of(const Slot& slot, const Verdict& verdict, const Outcome* outcome) const;

    SlotTable& m_table;
    WorkerMetrics& m_metrics;
    ConfigCache* m_cache;
    Tracer& m_tracer;
    Clock& m_clock;
    const std::string m_metrics_file;
    const std::string m_worker_id;
    StatsdSink* m_statsd;
    std::mutex m_gauges_mutex;
    std::string m_queue_gauges;
};

}  // namespace wfq::engine
