#include <wfq/config_cache.h>
#include <wfq/errors.h>
#include <wfq/limits.h>
#include <wfq/metrics.h>
#include <wfq/trace.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace wfq {
namespace {

// The shortest text that reads back as v (18.293, not 18.292999999999999), in Prometheus' spelling
// of the special values.
std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

void header(std::string& out, const std::string& name, const char* type, const char* help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

const std::vector<double> kSeconds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};

}  // namespace

std::string prometheus_label(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

Histogram::Histogram(std::vector<double> upper_bounds) : m_bounds(std::move(upper_bounds)), m_counts(m_bounds.size() + 1) {}

void Histogram::observe(double value) {
    std::size_t i = 0;
    while (i < m_bounds.size() && value > m_bounds[i]) ++i;
    ++m_counts[i];
    ++m_count;
    m_sum += value;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
    std::uint64_t cumulative = 0;
    std::string sep = labels.empty() ? "" : ",";
    for (std::size_t i = 0; i < m_bounds.size(); ++i) {
        cumulative += m_counts[i];
        out += name + "_bucket{" + labels + sep + "le=\"" + number(m_bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(m_count) + "\n";
    out += name + "_sum{" + labels + "} " + number(m_sum) + "\n";
    out += name + "_count{" + labels + "} " + std::to_string(m_count) + "\n";
}

WorkerMetrics::WorkerMetrics() : m_job_seconds(kSeconds), m_claim_seconds(kSeconds), m_stage_seconds(kSeconds) {}

void WorkerMetrics::job_finished(const std::string& outcome, double seconds) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (outcome == "completed") {
        ++m_completed;
        m_last_success = static_cast<double>(unix_now_ns()) / 1e9;
    } else if (outcome == "retried") ++m_retried;
    else if (outcome == "failed") ++m_failed;
    else if (outcome == "released") ++m_released;
    else if (outcome == "parked" || outcome == "deferred") ++m_parked;
    else ++m_lost;
    m_job_seconds.observe(seconds);
}

void WorkerMetrics::claim(double seconds, std::size_t jobs) {
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_claims;
    m_claimed += static_cast<std::int64_t>(jobs);
    m_claim_seconds.observe(seconds);
}

void WorkerMetrics::stage_finished(double seconds) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stage_seconds.observe(seconds);
}

void WorkerMetrics::lock_wait() {
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_lock_waits;
}

void WorkerMetrics::rescued(std::int64_t n) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_rescued += n;
}

std::string WorkerMetrics::render(const std::string& worker_id, const CacheStats& cache) const {
    std::lock_guard<std::mutex> lock(m_mutex);
    std::string w = "worker=\"" + prometheus_label(worker_id) + "\"";
    std::string out;
    auto counter = [&](const std::string& name, const char* help, std::int64_t v) {
        header(out, name, "counter", help);
        out += name + "{" + w + "} " + std::to_string(v) + "\n";
    };
    header(out, "wfq_worker_jobs_total", "counter", "Job attempts this worker finished, by outcome.");
    for (auto [outcome, v] : std::vector<std::pair<const char*, std::int64_t>>{
             {"completed", m_completed}, {"retried", m_retried}, {"failed", m_failed}, {"released", m_released}, {"lost", m_lost},
             {"parked", m_parked}})
        out += "wfq_worker_jobs_total{" + w + ",outcome=\"" + outcome + "\"} " + std::to_string(v) + "\n";
    counter("wfq_worker_jobs_rescued_total", "Jobs this worker's rescuer returned to pending or failed.", m_rescued);
    counter("wfq_worker_claims_total", "Claim queries this worker ran.", m_claims);
    counter("wfq_worker_jobs_claimed_total", "Jobs this worker claimed.", m_claimed);
    counter("wfq_worker_config_cache_hits_total", "Config cache hits.", cache.hits);
    counter("wfq_worker_config_cache_misses_total", "Config cache misses.", cache.misses);
    counter("wfq_worker_lock_waits_total", "Idle polls that found a due job held back by its busy lock key.", m_lock_waits);
    header(out, "wfq_worker_job_duration_seconds", "histogram", "Duration of job attempts, from claim to outcome.");
    m_job_seconds.render(out, "wfq_worker_job_duration_seconds", w);
    header(out, "wfq_worker_stage_duration_seconds", "histogram", "Duration of pipeline stages.");
    m_stage_seconds.render(out, "wfq_worker_stage_duration_seconds", w);
    header(out, "wfq_worker_claim_duration_seconds", "histogram", "Latency of claim queries.");
    m_claim_seconds.render(out, "wfq_worker_claim_duration_seconds", w);
    header(out, "wfq_worker_last_success_timestamp_seconds", "gauge", "Unix time of the last completed job (0: none yet).");
    out += "wfq_worker_last_success_timestamp_seconds{" + w + "} " + number(m_last_success) + "\n";
    return out;
}

std::string render_queue_metrics(const QueueMetrics& m) {
    std::string out;
    header(out, "wfq_jobs", "gauge",
           "Jobs by state, type and queue; always exact for running and waiting, exact for the other states unless "
           "wfq_jobs_estimated{state} is 1 (a state past 10000 jobs; state=\"completed\" is an estimate while "
           "wfq_jobs_completed_estimated is 1).");
    for (const auto& c : m.jobs)
        out += "wfq_jobs{state=\"" + prometheus_label(c.state) + "\",type=\"" + prometheus_label(c.type) + "\",queue=\"" +
               prometheus_label(c.queue) + "\"} " + std::to_string(c.count) + "\n";
    std::int64_t failed = 0;
    for (const auto& c : m.jobs)
        if (c.state == "failed") failed += c.count;
    auto gauge = [&](const char* name, const char* help, double v) {
        header(out, name, "gauge", help);
        out += std::string(name) + " " + number(v) + "\n";
    };
    gauge("wfq_oldest_pending_job_age_seconds", "Age of the oldest due pending job (0: none); exact.",
          m.oldest_pending_age_ms ? static_cast<double>(*m.oldest_pending_age_ms) / 1000.0 : 0.0);
    gauge("wfq_running_jobs_past_lease", "Running jobs whose lease has expired (awaiting rescue).",
          static_cast<double>(m.running_past_lease));
    gauge("wfq_waiting_jobs", "Jobs waiting for an event.", static_cast<double>(m.waiting));
    gauge("wfq_waiting_jobs_past_deadline", "Waiting jobs whose deadline has passed.", static_cast<double>(m.waiting_past_deadline));
    gauge("wfq_live_workers", "Workers that heartbeated recently.", static_cast<double>(m.live_workers));
    gauge("wfq_dead_workers", "Registered workers that stopped heartbeating.", static_cast<double>(m.dead_workers));
    gauge("wfq_held_locks", "Lease locks currently held.", static_cast<double>(m.held_locks));
    gauge("wfq_failed_jobs", "Jobs in the failed state (the dead letter); an estimate while wfq_jobs_estimated{state=\"failed\"} is 1.",
          static_cast<double>(failed));
    gauge("wfq_jobs_completed_estimated",
          "1 when the completed counts of wfq_jobs are estimates (over 10000 completed jobs), 0 when exact.",
          m.completed_estimated ? 1.0 : 0.0);
    header(out, "wfq_jobs_estimated", "gauge",
           "1 when the counts of wfq_jobs for the state are estimates, from a fixed sample of the table (pending, completed, "
           "failed or cancelled past 10000 jobs of that state), 0 when exact (running and waiting always are).");
    for (const char* state : {"cancelled", "completed", "failed", "pending"}) {
        bool estimated = std::find(m.estimated_states.begin(), m.estimated_states.end(), state) != m.estimated_states.end();
        out += std::string("wfq_jobs_estimated{state=\"") + state + "\"} " + (estimated ? "1" : "0") + "\n";
    }
    header(out, "wfq_queue_paused", "gauge", "1 for each paused queue (`wfq queues pause`): workers do not claim from it.");
    for (const auto& q : m.paused_queues) out += "wfq_queue_paused{queue=\"" + prometheus_label(q) + "\"} 1\n";
    return out;
}

std::string render_limit_metrics(const std::vector<LimitRuleUsage>& rules) {
    // Labelled per rule (a bounded set an operator wrote), never per key.
    std::string out;
    struct Series {
        const char* name;
        const char* help;
        std::int64_t (*value)(const LimitRuleUsage&);
    };
    static const Series series[] = {
        {"wfq_limit_running_jobs", "Running jobs holding keys of the flow-control rule.",
         [](const LimitRuleUsage& u) {
             std::int64_t n = 0;
             for (const auto& k : u.keys) n += k.running;
             return n;
         }},
        {"wfq_limit_held_jobs", "Pending jobs the flow-control rule holds back now.",
         [](const LimitRuleUsage& u) {
             std::int64_t n = 0;
             for (const auto& k : u.keys) n += k.held;
             return n;
         }},
        {"wfq_limit_keys_at_limit", "Keys of the rule at their concurrency cap, or out of rate tokens, with jobs held back.",
         [](const LimitRuleUsage& u) {
             std::int64_t n = 0;
             for (const auto& k : u.keys) n += k.held > 0 ? 1 : 0;
             return n;
         }},
    };
    for (const auto& s : series) {
        header(out, s.name, "gauge", s.help);
        for (const auto& u : rules)
            out += std::string(s.name) + "{rule=\"" + prometheus_label(u.rule.pattern) + "\"} " + std::to_string(s.value(u)) + "\n";
    }
    return out;
}

}  // namespace wfq
