// Queues: pauses, per-queue counts (queues list, top), metrics and database facts.
#include "sql_store.h"

#include "sql_text.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <tuple>

namespace wfq::store {
namespace {

// The sample sample_counts reads: kSampleBlocks runs of kBlockIds consecutive ids, evenly spread
// over the table's ids (so over its history: ids grow with time), each one range of the primary
// key. Many short runs rather than a few long ones: a state that fills a stretch of ids (a bulk
// cancel, a backlog) is then cut at a run's edge, and the estimate is off by a run at most.
constexpr std::int64_t kSampleBlocks = 100, kBlockIds = 100;

// Per queue, what queue_rows does not count from the claim index: running and waiting jobs
// (each state's own partial index: jobs_running_lease, jobs_waiting), failed jobs (a range of
// jobs_finished; $2 caps them: past it they are estimated), completed and failed jobs in the
// last hour and minute (a range of jobs_finished by time), pauses. (Migration 6's
// jobs_active_queue served the active states in one index; migration 7 drops it: every enqueue
// paid for its entry.)
constexpr const char* kQueueCounts =
    "SELECT queue, SUM(running) AS running, SUM(waiting) AS waiting, SUM(failed) AS failed, SUM(completed_hour) AS completed_hour, "
    "MAX(paused) AS paused, SUM(completed_minute) AS completed_minute, SUM(failed_minute) AS failed_minute FROM ("
    "SELECT queue, COUNT(*) AS running, 0 AS waiting, 0 AS failed, 0 AS completed_hour, 0 AS paused, 0 AS completed_minute, "
    "0 AS failed_minute FROM jobs WHERE state = 'running' GROUP BY queue "
    "UNION ALL SELECT queue, 0, COUNT(*), 0, 0, 0, 0, 0 FROM jobs WHERE state = 'waiting' GROUP BY queue "
    "UNION ALL SELECT queue, 0, 0, COUNT(*), 0, 0, 0, 0 FROM jobs WHERE state = 'failed' AND " FINISHED_STATES_TERM " AND $1 = 1 GROUP BY queue "
    "UNION ALL SELECT queue, 0, 0, 0, SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END), 0, "
    "SUM(CASE WHEN state = 'completed' AND finished_at >= wfq_now_ms() - 60000 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN state = 'failed' AND finished_at >= wfq_now_ms() - 60000 THEN 1 ELSE 0 END) "
    "FROM jobs WHERE state IN ('completed', 'failed') AND " FINISHED_STATES_TERM " AND finished_at >= wfq_now_ms() - 3600000 GROUP BY queue "
    "UNION ALL SELECT queue, 0, 0, 0, 0, 1, 0, 0 FROM queue_pauses) q GROUP BY queue";

}  // namespace

// How far a count of one state (or, for pending jobs, of one queue) goes before it stops and
// the number is estimated instead: an exact count reads one index entry per job, and a backlog,
// a dead letter or a bulk cancel can hold millions. WFQ_TEST_EXACT_COUNT_CAP (test-only) lowers
// it so that tests reach it with a few hundred jobs.
std::int64_t SqlStore::exact_count_cap() {
    static const std::int64_t cap = [] {
        const char* v = std::getenv("WFQ_TEST_EXACT_COUNT_CAP");
        return v && *v ? std::max<std::int64_t>(1, std::atoll(v)) : std::int64_t(10000);
    }();
    return cap;
}

std::int64_t SqlStore::capped_count(const std::string& where, const Params& params, std::int64_t cap) {
    Params p = params;
    p.emplace_back(cap + 1);
    return run("SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE " + where + " LIMIT $" + std::to_string(p.size()) + ") c", p).at(0).i64(0);
}

std::vector<SqlStore::SampledCount> SqlStore::sample_counts() {
    std::vector<SampledCount> out;
    // Two subqueries: SQLite finds MIN and MAX from the primary key only one to a statement.
    auto ids = run("SELECT (SELECT MIN(id) FROM jobs), (SELECT MAX(id) FROM jobs)", {}).at(0);
    if (ids.is_null(0)) return out;
    const std::int64_t lo = ids.i64(0), span = ids.i64(1) - lo + 1;
    // Every id when the table's ids fit in the sample; else the runs, step ids apart.
    const std::int64_t blocks = std::min(kSampleBlocks, (span + kBlockIds - 1) / kBlockIds);
    const std::int64_t step = std::max(kBlockIds, span / blocks);
    const double scale = static_cast<double>(span) / static_cast<double>(std::min(span, blocks * kBlockIds));
    // Every state: with a state's term, SQLite built an index over the whole table (15 s at 1M).
    auto rows = run("WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n + 1 < CAST($1 AS BIGINT)) "
                    "SELECT j.state, j.type, j.queue, COUNT(*), SUM(CASE WHEN j.run_at <= wfq_now_ms() THEN 1 ELSE 0 END) "
                    "FROM b JOIN jobs j ON j.id >= CAST($2 AS BIGINT) + b.n * CAST($3 AS BIGINT) AND "
                    "j.id < CAST($2 AS BIGINT) + b.n * CAST($3 AS BIGINT) + CAST($4 AS BIGINT) "
                    "GROUP BY j.state, j.type, j.queue",
                    {blocks, lo, step, kBlockIds});
    for (const auto& r : rows)
        out.push_back({r.str(0), r.str(1), r.str(2), static_cast<double>(r.i64(3)) * scale, static_cast<double>(r.i64(4)) * scale});
    return out;
}

std::vector<std::pair<std::string, std::int64_t>> SqlStore::pending_queues(std::int64_t cap) {
    // The queues from the claim index (queue, ...) one step each (a loose index scan), and each
    // queue's pending jobs counted from it up to cap + 1.
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& r : run("WITH RECURSIVE qs(queue) AS (SELECT (SELECT MIN(queue) FROM jobs WHERE state = 'pending') "
                             "UNION ALL SELECT (SELECT MIN(queue) FROM jobs WHERE state = 'pending' AND queue > qs.queue) "
                             "FROM qs WHERE qs.queue IS NOT NULL) "
                             "SELECT queue, (SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE state = 'pending' AND queue = qs.queue "
                             "LIMIT $1) c) FROM qs WHERE queue IS NOT NULL",
                             {cap + 1}))
        out.emplace_back(r.str(0), r.i64(1));
    return out;
}

std::optional<TimeMs> SqlStore::oldest_due(const std::vector<std::string>& queues, TimeMs now) {
    // MIN(run_at) over a queue would read every pending job of it (the claim index orders them
    // by held and priority first); its first due time per priority takes one step each.
    std::optional<TimeMs> first;
    for (const auto& q : queues)
        for (const char* held : {"0", "1"})
            if (auto at = first_run_at(q, held, {}, false); at && (!first || *at < *first)) first = at;
    if (first && *first > now) return std::nullopt;
    return first;
}

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

std::vector<TopSnapshot::QueueRow> SqlStore::queue_rows() {
    // Pending jobs per queue from the claim index: a queue of at most the cap is counted
    // exactly (due, scheduled, oldest due); past it, its counts are estimated from a sample and
    // its oldest due job is found by oldest_due. Failed jobs likewise, as one state: at most the
    // cap, counted exactly per queue; past it, estimated per queue.
    const std::int64_t cap = exact_count_cap();
    const TimeMs now = run("SELECT wfq_now_ms()", {}).at(0).i64(0);
    std::map<std::string, TopSnapshot::QueueRow> rows;
    auto row = [&](const std::string& queue) -> TopSnapshot::QueueRow& {
        auto& r = rows[queue];
        r.summary.queue = queue;
        return r;
    };
    std::vector<std::string> exact, big;
    for (const auto& [queue, n] : pending_queues(cap)) (n > cap ? big : exact).push_back(queue);
    if (!exact.empty()) {
        Params params{now};
        std::string sql = "SELECT queue, SUM(CASE WHEN run_at <= $1 THEN 1 ELSE 0 END), SUM(CASE WHEN run_at > $1 THEN 1 ELSE 0 END), "
                          "MIN(CASE WHEN run_at <= $1 THEN run_at END) FROM jobs WHERE state = 'pending'";
        add_in(sql, params, "queue", exact);
        for (const auto& r : run(sql + " GROUP BY queue", params)) {
            auto& q = row(r.str(0)).summary;
            q.pending = r.i64(1);
            q.scheduled = r.i64(2);
            if (auto at = r.opt_i64(3)) q.oldest_pending_age_ms = now - *at;
        }
    }
    const bool failed_exact = capped_count("state = 'failed' AND " FINISHED_STATES_TERM, {}, cap) <= cap;
    for (const auto& r : run(kQueueCounts, {std::int64_t(failed_exact ? 1 : 0)})) {
        auto& q = row(r.str(0));
        q.summary.running = r.i64(1);
        q.summary.waiting = r.i64(2);
        q.summary.failed = r.i64(3);
        q.summary.completed_last_hour = r.i64(4);
        q.summary.paused = r.i64(5) != 0;
        q.completed_last_minute = r.i64(6);
        q.failed_last_minute = r.i64(7);
    }
    if (!big.empty() || !failed_exact) {
        std::map<std::string, std::pair<double, double>> pending;  // queue: (all, due)
        std::map<std::string, double> failed;
        for (const auto& c : sample_counts()) {
            if (c.state == "failed") failed[c.queue] += c.count;
            else if (c.state == "pending" && std::find(big.begin(), big.end(), c.queue) != big.end()) {
                pending[c.queue].first += c.count;
                pending[c.queue].second += c.due;
            }
        }
        for (const auto& queue : big) {
            auto& q = row(queue).summary;
            // The count stopped past the cap: an estimate below it is the sample's error.
            auto [all, due] = pending[queue];
            double total = std::max(all, static_cast<double>(cap + 1));
            q.pending = std::llround(all > 0 ? total * due / all : total);
            q.scheduled = std::llround(total) - q.pending;
            q.pending_estimated = true;
            if (auto at = oldest_due({queue}, now)) q.oldest_pending_age_ms = now - *at;
        }
        if (!failed_exact) {
            for (const auto& [queue, n] : failed) row(queue).summary.failed = std::llround(n);
            for (auto& [queue, r] : rows) r.summary.failed_estimated = true;
        }
    }
    std::vector<TopSnapshot::QueueRow> out;
    for (auto& [queue, r] : rows) out.push_back(std::move(r));
    return out;
}

std::vector<std::string> SqlStore::queues_ever_used(const std::vector<std::string>& names) {
    // job_queues (migration 20): every queue a job has had, written by the first job of each.
    std::string sql = "SELECT queue FROM job_queues WHERE 1 = 1";
    Params params;
    add_in(sql, params, "queue", names);
    std::vector<std::string> out;
    for (const auto& r : run(sql, params)) out.push_back(r.str(0));
    return out;
}

std::vector<QueueSummary> SqlStore::queue_summaries() {
    std::vector<QueueSummary> out;
    for (auto& r : queue_rows()) out.push_back(std::move(r.summary));
    return out;
}

TopSnapshot SqlStore::top_snapshot(int rows) {
    // The queues (queue_rows), then one statement, sections told apart by the first column; the
    // same columns everywhere: kind, three texts, ten numbers.
    TopSnapshot snap;
    snap.queues = queue_rows();
    std::string sql =
        "SELECT 'now', NULL, NULL, NULL, wfq_now_ms(), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
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
    for (const auto& r : run(sql, {std::int64_t(rows)})) {
        const std::string& kind = r.str(0);
        if (kind == "now") {
            snap.now = r.i64(4);
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
    std::sort(snap.workers.begin(), snap.workers.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    std::sort(snap.recent_failures.begin(), snap.recent_failures.end(), [](const auto& a, const auto& b) { return a.at > b.at; });
    std::sort(snap.longest_running.begin(), snap.longest_running.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
    return snap;
}

QueueMetrics SqlStore::queue_metrics(std::int64_t dead_after_ms, bool count_jobs) {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    QueueMetrics m;
    if (count_jobs) count_jobs_by_state(m);
    auto row = run("SELECT wfq_now_ms(), "
                   "(SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_expires_at < wfq_now_ms()), "
                   "(SELECT COUNT(*) FROM jobs WHERE state = 'waiting'), "
                   "(SELECT COUNT(*) FROM jobs WHERE state = 'waiting' AND wait_deadline < wfq_now_ms()), "
                   "(SELECT COUNT(*) FROM workers WHERE last_heartbeat >= wfq_now_ms() - $1), "
                   "(SELECT COUNT(*) FROM workers WHERE last_heartbeat < wfq_now_ms() - $1), "
                   "(SELECT COUNT(*) FROM locks WHERE expires_at > wfq_now_ms()), "
                   "(SELECT COUNT(*) FROM locks WHERE expires_at <= wfq_now_ms())",
                   {dead_after_ms}).at(0);
    const TimeMs now = row.i64(0);
    m.running_past_lease = row.i64(1);
    m.waiting = row.i64(2);
    m.waiting_past_deadline = row.i64(3);
    m.live_workers = row.i64(4);
    m.dead_workers = row.i64(5);
    m.held_locks = row.i64(6);
    m.expired_locks = row.i64(7);
    // The oldest due job, exact: MIN(run_at) over the pending jobs when every queue's were
    // counted (none past the cap); else (past it, or for doctor) each queue's first due time
    // from the claim index (MIN(run_at) read the whole backlog: 500 ms at 1M pending jobs).
    if (count_jobs && std::find(m.estimated_states.begin(), m.estimated_states.end(), "pending") == m.estimated_states.end()) {
        if (auto at = run("SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND run_at <= wfq_now_ms()", {}).at(0).opt_i64(0))
            m.oldest_pending_age_ms = now - *at;
    } else {
        std::vector<std::string> queues;
        for (const auto& q : pending_queues(0)) queues.push_back(q.first);
        if (auto at = oldest_due(queues, now)) m.oldest_pending_age_ms = now - *at;
    }
    for (const auto& r : run("SELECT queue FROM queue_pauses ORDER BY queue", {})) m.paused_queues.push_back(r.str(0));
    return m;
}

// Jobs by state, type and queue. Running and waiting jobs are counted exactly from their
// partial indexes. Completed jobs are most of a big table, and pending (a backlog), failed (the
// dead letter) and cancelled (a bulk cancel) can run into the millions: each of those four
// states is counted up to the cap (one index range, each entry read once); one past it, that
// state's counts are estimated by state, type and queue from a sample of the table
// (sample_counts), and m.estimated_states names it.
void SqlStore::count_jobs_by_state(QueueMetrics& m) {
    const std::int64_t cap = exact_count_cap();
    std::string exact_sql =
        "SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY state, type, queue "
        "UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'waiting' GROUP BY state, type, queue";
    Params params;
    // One branch per state, each on that state's partial index or range (finished states:
    // jobs_finished, whose predicate SQLite needs word for word). Pending jobs per queue, as
    // queues list counts them: a queue past the cap is estimated, the others stay exact.
    std::vector<std::string> exact_queues, big_queues;
    for (const auto& [queue, n] : pending_queues(cap)) (n > cap ? big_queues : exact_queues).push_back(queue);
    if (!exact_queues.empty()) {
        exact_sql += " UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'pending'";
        add_in(exact_sql, params, "queue", exact_queues);
        exact_sql += " GROUP BY state, type, queue";
    }
    if (!big_queues.empty()) m.estimated_states.emplace_back("pending");
    for (const char* state : {"cancelled", "completed", "failed"}) {
        const std::string st = state, where = "state = '" + st + "' AND " FINISHED_STATES_TERM;
        if (capped_count(where, {}, cap) <= cap) {
            exact_sql += " UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs WHERE " + where + " GROUP BY state, type, queue";
        } else {
            m.estimated_states.push_back(st);
        }
    }
    m.completed_estimated = std::find(m.estimated_states.begin(), m.estimated_states.end(), "completed") != m.estimated_states.end();
    for (const auto& r : run(exact_sql, params)) m.jobs.push_back({r.str(0), r.str(1), r.str(2), r.i64(3)});
    auto has = [](const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); };
    if (!m.estimated_states.empty())
        for (const auto& c : sample_counts())
            if (has(m.estimated_states, c.state) && (c.state != "pending" || has(big_queues, c.queue)))
                m.jobs.push_back({c.state, c.type, c.queue, std::llround(c.count)});
    std::sort(m.jobs.begin(), m.jobs.end(), [](const QueueMetrics::Count& a, const QueueMetrics::Count& b) {
        return std::tie(a.state, a.type, a.queue) < std::tie(b.state, b.type, b.queue);
    });
}

std::vector<std::pair<std::string, double>> SqlStore::database_facts() {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    return retry([&] { return m_db->database_facts(); }, default_db_retry_policy());
}

}  // namespace wfq::store
