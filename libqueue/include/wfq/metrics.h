#pragma once
// Prometheus text exposition: the queue's gauges (`wfq metrics`) and a worker's counters and
// histograms (`wfq process --metrics-file`, for node_exporter's textfile collector).
#include <wfq/store.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace wfq {

struct LimitRuleUsage;

struct CacheStats;

class Histogram {
public:
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value);
    // Appends the _bucket, _sum and _count series (with labels, e.g. `worker="w1"`).
    void render(std::string& out, const std::string& name, const std::string& labels) const;

private:
    std::vector<double> m_bounds;
    std::vector<std::uint64_t> m_counts;  // per bucket, not cumulative
    std::uint64_t m_count = 0;
    double m_sum = 0;
};

// Counters and histograms of one worker process. Thread-safe.
class WorkerMetrics {
public:
    WorkerMetrics();
    void job_finished(const std::string& outcome, double seconds);  // completed, retried, failed, released, lost
    void claim(double seconds, std::size_t jobs);
    void rescued(std::int64_t n);
    void lock_wait();
    void stage_finished(double seconds);  // a due job could not be claimed because its lock key was busy
    std::string render(const std::string& worker_id, const CacheStats& cache) const;

private:
    mutable std::mutex m_mutex;
    std::int64_t m_completed = 0, m_retried = 0, m_failed = 0, m_released = 0, m_lost = 0, m_rescued = 0, m_claims = 0,
                 m_claimed = 0, m_lock_waits = 0, m_parked = 0;
    double m_last_success = 0;
    Histogram m_job_seconds, m_claim_seconds, m_stage_seconds;
};

std::string render_queue_metrics(const QueueMetrics& m);
// Flow control per rule (`wfq limits list`): running and held-back jobs, keys at their limit.
std::string render_limit_metrics(const std::vector<LimitRuleUsage>& rules);
// Escapes a label value (backslash, double quote, newline).
std::string prometheus_label(const std::string& value);

}  // namespace wfq
