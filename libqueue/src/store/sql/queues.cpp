// Queues: pauses, per-queue counts (queues list, top), metrics and database facts.
#include "sql_store.h"

#include "sql_text.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace wfq::store {
namespace {

// Per queue: pending (due), scheduled, running, waiting, failed, completed in the last hour,
// oldest due age, paused, completed and failed in the last minute. Each branch reads one
// state's partial index (jobs_claim, jobs_running_lease, jobs_waiting: one branch per state,
// so each predicate matches its index on both backends) or one range of jobs_finished (failed
// jobs, the last hour's finishes), so a table of millions of finished jobs costs nothing
// beyond its failed ones and the last hour's. (Migration 6's jobs_active_queue served the
// active states in one index; migration 7 drops it: every enqueue paid for its entry.)
constexpr const char* kQueueCounts =
    "SELECT queue, SUM(pending) AS pending, SUM(scheduled) AS scheduled, SUM(running) AS running, "
    "SUM(waiting) AS waiting, SUM(failed) AS failed, SUM(completed_hour) AS completed_hour, "
    "wfq_now_ms() - MIN(oldest_due) AS oldest_age, MAX(paused) AS paused, SUM(completed_minute) AS completed_minute, "
    "SUM(failed_minute) AS failed_minute FROM ("
    "SELECT queue, SUM(CASE WHEN run_at <= wfq_now_ms() THEN 1 ELSE 0 END) AS pending, "
    "SUM(CASE WHEN run_at > wfq_now_ms() THEN 1 ELSE 0 END) AS scheduled, 0 AS running, 0 AS waiting, "
    "0 AS failed, 0 AS completed_hour, MIN(CASE WHEN run_at <= wfq_now_ms() THEN run_at END) AS oldest_due, "
    "0 AS paused, 0 AS completed_minute, 0 AS failed_minute FROM jobs WHERE state = 'pending' GROUP BY queue "
    "UNION ALL SELECT queue, 0, 0, COUNT(*), 0, 0, 0, NULL, 0, 0, 0 FROM jobs WHERE state = 'running' GROUP BY queue "
    "UNION ALL SELECT queue, 0, 0, 0, COUNT(*), 0, 0, NULL, 0, 0, 0 FROM jobs WHERE state = 'waiting' GROUP BY queue "
    "UNION ALL SELECT queue, 0, 0, 0, 0, COUNT(*), 0, NULL, 0, 0, 0 FROM jobs WHERE state = 'failed' AND " FINISHED_STATES_TERM " GROUP BY queue "
    "UNION ALL SELECT queue, 0, 0, 0, 0, 0, SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END), NULL, 0, "
    "SUM(CASE WHEN state = 'completed' AND finished_at >= wfq_now_ms() - 60000 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN state = 'failed' AND finished_at >= wfq_now_ms() - 60000 THEN 1 ELSE 0 END) "
    "FROM jobs WHERE state IN ('completed', 'failed') AND " FINISHED_STATES_TERM " AND finished_at >= wfq_now_ms() - 3600000 GROUP BY queue "
    "UNION ALL SELECT queue, 0, 0, 0, 0, 0, 0, NULL, 1, 0, 0 FROM queue_pauses) q GROUP BY queue";

}  // namespace

bool SqlStore::set_queue_paused(const std::string& queue, bool paused, const std::string& actor) {
    return transact([&] {
        if (paused)
            return !m_db->exec("INSERT INTO queue_pauses (queue, paused_at, paused_by) VALUES ($1, wfq_now_ms(), $2) "
                               "ON CONFLICT (queue) DO NOTHING RETURNING queue",
                               {queue, actor})
                        .empty();
        if (m_db->exec("DELETE FROM queue_pauses WHERE queue = $1 RETURNING queue", {queue}).empty()) return false;
        m_db->notify_enqueued(queue);  // idle workers claim at once (SQLite: the commit wakes them)
        return true;
    });
}

std::vector<QueuePause> SqlStore::queue_pauses() {
    std::vector<QueuePause> out;
    for (const auto& r : run("SELECT queue, paused_at, paused_by FROM queue_pauses ORDER BY queue", {}))
        out.push_back({r.str(0), r.str(2), r.i64(1)});
    return out;
}

std::vector<QueueSummary> SqlStore::queue_summaries() {
    std::vector<QueueSummary> out;
    for (const auto& r : run(std::string(kQueueCounts) + " ORDER BY queue", {})) {
        QueueSummary s;
        s.queue = r.str(0);
        s.pending = r.i64(1);
        s.scheduled = r.i64(2);
        s.running = r.i64(3);
        s.waiting = r.i64(4);
        s.failed = r.i64(5);
        s.completed_last_hour = r.i64(6);
        s.oldest_pending_age_ms = r.opt_i64(7);
        s.paused = r.i64(8) != 0;
        out.push_back(std::move(s));
    }
    return out;
}

TopSnapshot SqlStore::top_snapshot(int rows) {
    // One statement, sections told apart by the first column; the same columns everywhere:
    // kind, three texts, ten numbers.
    std::string sql =
        "SELECT 'now', NULL, NULL, NULL, wfq_now_ms(), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
        "UNION ALL SELECT 'queue', queue, NULL, NULL, pending, scheduled, running, waiting, failed, completed_hour, "
        "oldest_age, paused, completed_minute, failed_minute FROM (" + std::string(kQueueCounts) + ") qc "
        "UNION ALL SELECT 'worker', id, hostname, NULL, running, started_at, last_heartbeat, NULL, NULL, NULL, NULL, "
        "NULL, NULL, NULL FROM workers "
        "UNION ALL SELECT 'failure', type, queue, error_class, id, finished_at, attempt, NULL, NULL, NULL, NULL, NULL, NULL, "
        "NULL FROM (SELECT id, type, queue, error_class, finished_at, attempt FROM jobs WHERE state = 'failed' AND " FINISHED_STATES_TERM " "
        "ORDER BY finished_at DESC LIMIT $1) f "
        "UNION ALL SELECT 'stuck', type, queue, lease_owner, id, lease_expires_at, attempt, NULL, NULL, NULL, NULL, NULL, "
        "NULL, NULL FROM (SELECT id, type, queue, lease_owner, lease_expires_at, attempt FROM jobs WHERE state = 'running' "
        "AND lease_expires_at < wfq_now_ms() ORDER BY lease_expires_at LIMIT $1) s "
        "UNION ALL SELECT 'running', type, queue, lease_owner, id, started_at, attempt, NULL, NULL, NULL, NULL, NULL, "
        "NULL, NULL FROM (SELECT id, type, queue, lease_owner, started_at, attempt FROM jobs WHERE state = 'running' "
        "AND prefetched = 0 ORDER BY started_at, id LIMIT $1) l";
    TopSnapshot snap;
    for (const auto& r : run(sql, {std::int64_t(rows)})) {
        const std::string& kind = r.str(0);
        if (kind == "now") {
            snap.now = r.i64(4);
        } else if (kind == "queue") {
            TopSnapshot::QueueRow q;
            q.summary.queue = r.str(1);
            q.summary.pending = r.i64(4);
            q.summary.scheduled = r.i64(5);
            q.summary.running = r.i64(6);
            q.summary.waiting = r.i64(7);
            q.summary.failed = r.i64(8);
            q.summary.completed_last_hour = r.i64(9);
            q.summary.oldest_pending_age_ms = r.opt_i64(10);
            q.summary.paused = r.i64(11) != 0;
            q.completed_last_minute = r.i64(12);
            q.failed_last_minute = r.i64(13);
            snap.queues.push_back(std::move(q));
        } else if (kind == "worker") {
            snap.workers.push_back({r.str(1), r.str(2), static_cast<int>(r.i64(4)), r.i64(5), r.i64(6)});
        } else {
            TopSnapshot::JobRow j;
            j.type = r.str(1);
            j.queue = r.str(2);
            j.id = r.i64(4);
            j.at = r.opt_i64(5).value_or(0);
            j.attempt = static_cast<int>(r.i64(6));
            if (kind == "failure") {
                j.error_class = r.opt_str(3).value_or("");
                snap.recent_failures.push_back(std::move(j));
            } else {
                j.worker = r.opt_str(3).value_or("");
                (kind == "running" ? snap.longest_running : snap.stuck).push_back(std::move(j));
            }
        }
    }
    std::sort(snap.queues.begin(), snap.queues.end(),
              [](const auto& a, const auto& b) { return a.summary.queue < b.summary.queue; });
    std::sort(snap.workers.begin(), snap.workers.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    std::sort(snap.recent_failures.begin(), snap.recent_failures.end(), [](const auto& a, const auto& b) { return a.at > b.at; });
    std::sort(snap.longest_running.begin(), snap.longest_running.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
    return snap;
}

QueueMetrics SqlStore::queue_metrics(std::int64_t dead_after_ms) {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    return retry(
        [&] {
            QueueMetrics m;
            count_jobs_by_state(m);
            auto row = m_db->exec(
                "SELECT (SELECT wfq_now_ms() - MIN(run_at) FROM jobs WHERE state = 'pending' AND run_at <= wfq_now_ms()), "
                "(SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_expires_at < wfq_now_ms()), "
                "(SELECT COUNT(*) FROM jobs WHERE state = 'waiting'), "
                "(SELECT COUNT(*) FROM jobs WHERE state = 'waiting' AND wait_deadline < wfq_now_ms()), "
                "(SELECT COUNT(*) FROM workers WHERE last_heartbeat >= wfq_now_ms() - $1), "
                "(SELECT COUNT(*) FROM workers WHERE last_heartbeat < wfq_now_ms() - $1), "
                "(SELECT COUNT(*) FROM locks WHERE expires_at > wfq_now_ms()), "
                "(SELECT COUNT(*) FROM locks WHERE expires_at <= wfq_now_ms())",
                {dead_after_ms}).at(0);
            m.oldest_pending_age_ms = row.opt_i64(0);
            m.running_past_lease = row.i64(1);
            m.waiting = row.i64(2);
            m.waiting_past_deadline = row.i64(3);
            m.live_workers = row.i64(4);
            m.dead_workers = row.i64(5);
            m.held_locks = row.i64(6);
            m.expired_locks = row.i64(7);
            for (const auto& r : m_db->exec("SELECT queue FROM queue_pauses ORDER BY queue", {})) m.paused_queues.push_back(r.str(0));
            return m;
        },
        default_db_retry_policy());
}

// Jobs by state, type and queue. Running and waiting jobs are counted exactly from their
// partial indexes. Completed jobs are most of a big table, and pending (a backlog), failed (the
// dead letter) and cancelled (a bulk cancel) can run into the millions: on a table past
// kExactCountRows rows (by the planner's count), completed jobs, and any of those three states
// holding more than kExactStateRows (a count that stops there says so), are estimated: the
// planner's row count less the exact states, split by state, type and queue as a fixed sample
// of the table's pages splits it; m.estimated_states names them. SQLite counts exactly.
void SqlStore::count_jobs_by_state(QueueMetrics& m) {
    constexpr double kExactCountRows = 100000, kSampleRows = 30000;
    constexpr std::int64_t kExactStateRows = 100000;
    auto total = m_db->estimated_rows("jobs");
    std::string sample = total && *total > kExactCountRows
                             ? m_db->sample_clause(std::min(100.0, 100.0 * kSampleRows / *total))
                             : std::string();
    bool pending_exact = true, failed_exact = true, cancelled_exact = true;
    if (!sample.empty()) {
        // Each count reads at most kExactStateRows + 1 entries of that state's index.
        const std::string cap = std::to_string(kExactStateRows + 1);
        auto row = m_db->exec(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE state = 'pending' LIMIT " + cap + ") p), "
            "(SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE state = 'failed' AND " FINISHED_STATES_TERM " LIMIT " + cap + ") f), "
            "(SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE state = 'cancelled' AND " FINISHED_STATES_TERM " LIMIT " + cap + ") c)",
            {}).at(0);
        pending_exact = row.i64(0) <= kExactStateRows;
        failed_exact = row.i64(1) <= kExactStateRows;
        cancelled_exact = row.i64(2) <= kExactStateRows;
    }
    // One branch per state, each on that state's partial index or range (see kQueueCounts).
    std::string exact_sql =
        "SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY state, type, queue "
        "UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'waiting' GROUP BY state, type, queue";
    if (pending_exact) exact_sql += " UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'pending' GROUP BY state, type, queue";
    std::string finished;  // failed and cancelled counted exactly
    if (failed_exact) finished += "'failed'";
    if (cancelled_exact) finished += std::string(finished.empty() ? "" : ", ") + "'cancelled'";
    if (!finished.empty())
        exact_sql += " UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs WHERE state IN (" + finished + ") AND " FINISHED_STATES_TERM
                     " GROUP BY state, type, queue";
    std::int64_t exact = 0;
    for (const auto& r : m_db->exec(exact_sql, {})) {
        m.jobs.push_back({r.str(0), r.str(1), r.str(2), r.i64(3)});
        exact += r.i64(3);
    }
    if (sample.empty()) {
        for (const auto& r : m_db->exec("SELECT type, queue, COUNT(*) FROM jobs WHERE state = 'completed' AND " FINISHED_STATES_TERM " GROUP BY type, queue", {}))
            m.jobs.push_back({"completed", r.str(0), r.str(1), r.i64(2)});
    } else {
        std::string states = "'completed'";
        m.estimated_states = {"completed"};
        for (auto [name, is_exact] : {std::pair<const char*, bool>{"cancelled", cancelled_exact}, {"failed", failed_exact}, {"pending", pending_exact}})
            if (!is_exact) {
                states += std::string(", '") + name + "'";
                m.estimated_states.push_back(name);
            }
        m.completed_estimated = true;
        auto rows = m_db->exec("SELECT state, type, queue, COUNT(*) FROM jobs" + sample + " WHERE state IN (" + states +
                                   ") GROUP BY state, type, queue", {});
        double sampled = 0;
        for (const auto& r : rows) sampled += static_cast<double>(r.i64(3));
        double estimated = std::max(0.0, *total - static_cast<double>(exact));
        for (const auto& r : rows)
            m.jobs.push_back({r.str(0), r.str(1), r.str(2), std::llround(static_cast<double>(r.i64(3)) * estimated / sampled)});
    }
    std::sort(m.jobs.begin(), m.jobs.end(), [](const QueueMetrics::Count& a, const QueueMetrics::Count& b) {
        return std::tie(a.state, a.type, a.queue) < std::tie(b.state, b.type, b.queue);
    });
}

std::vector<std::pair<std::string, double>> SqlStore::database_facts() {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    return retry([&] { return m_db->database_facts(); }, default_db_retry_policy());
}

}  // namespace wfq::store
