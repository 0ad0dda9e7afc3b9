// Claims (one statement per claim), the idle worker's next due time, lease renewal and
// prefetch marks.
#include "sql_store.h"

#include "rows.h"
#include "sql_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

namespace wfq::store {

std::vector<Job> SqlStore::claim_batch(const ClaimRequest& req) {
    // On PostgreSQL two claimers can race for the same lock key; the unique index on
    // running lock keys rejects the second, which then simply claims again.
    for (int tries = 0;; ++tries) {
        try {
            std::lock_guard<std::recursive_mutex> lock(m_mutex);
            return retry([&] { return claim_once(req); }, default_db_retry_policy());
        } catch (const UniqueViolation&) {
            if (tries >= 5) return {};
        }
    }
}

std::vector<Job> SqlStore::running_jobs_of(const std::string& worker_id) {
    std::vector<Job> jobs;
    for (const auto& r : run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE state = 'running' AND lease_owner = $1",
                             {worker_id}))
        jobs.push_back(job_from_row(r));
    return jobs;
}

std::optional<TimeMs> SqlStore::next_due(const std::vector<std::string>& queues, const std::vector<std::string>& types) {
    if (queues.empty()) {
        std::string sql = "SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND " + no_paused_queue("queue");
        Params params;
        add_in(sql, params, "type", types);
        return run(sql, params).at(0).opt_i64(0);
    }
    // An idle worker asks this at every poll. The claim index orders a queue's pending jobs
    // by priority, then due time: MIN(run_at) over the queue read every one of them (100,000
    // jobs backing off cost an idle worker's database 3.5% of a core). Instead, for each
    // priority present (found from the index, one step each), its first due time.
    std::optional<TimeMs> first;
    for (const auto& queue : distinct_queues(queues)) {
        Params params{queue};
        std::string of_type;
        add_in(of_type, params, "d.type", types);
        auto row = run("WITH RECURSIVE pr(p) AS (SELECT (SELECT c.priority FROM jobs c WHERE c.state = 'pending' AND "
                       "c.queue = $1 ORDER BY c.priority DESC LIMIT 1) UNION ALL SELECT (SELECT c.priority FROM jobs c "
                       "WHERE c.state = 'pending' AND c.queue = $1 AND c.priority < pr.p ORDER BY c.priority DESC LIMIT 1) "
                       "FROM pr WHERE pr.p IS NOT NULL) "
                       "SELECT MIN((SELECT d.run_at FROM jobs d WHERE d.state = 'pending' AND d.queue = $1 AND "
                       "d.priority = pr.p" + of_type + " ORDER BY d.run_at LIMIT 1)) FROM pr WHERE pr.p IS NOT NULL AND " +
                           queue_not_paused("$1"),
                       params)
                       .at(0)
                       .opt_i64(0);
        if (row && (!first || *row < *first)) first = row;
    }
    return first;
}

std::vector<std::int64_t> SqlStore::renew_leases(const std::vector<JobRef>& jobs, std::int64_t lease_ms) {
    if (jobs.empty()) return {};
    nlohmann::json refs = nlohmann::json::array();
    for (const auto& j : jobs) refs.push_back({{"id", j.id}, {"owner", j.lease_owner}, {"attempt", j.attempt}});
    auto rows = run("UPDATE jobs SET lease_expires_at = wfq_now_ms() + $2 FROM " +
                        m_db->json_rows("$1", {{"id", "bigint"}, {"owner", "text"}, {"attempt", "integer"}}) +
                        " WHERE jobs.id = u.id AND " + m_db->json_ids_match("jobs.id", "$1") +
                        " AND jobs.lease_owner = u.owner AND jobs.attempt = u.attempt AND " + kStillRunning +
                        " RETURNING jobs.id",
                    {refs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), lease_ms});
    std::set<std::int64_t> kept;
    for (const auto& r : rows) kept.insert(r.i64(0));
    std::vector<std::int64_t> lost;
    for (const auto& j : jobs)
        if (!kept.count(j.id)) lost.push_back(j.id);
    return lost;
}

void SqlStore::set_prefetched(const std::vector<JobRef>& jobs, bool prefetched) {
    if (jobs.empty()) return;
    nlohmann::json refs = nlohmann::json::array();
    for (const auto& j : jobs) refs.push_back({{"id", j.id}, {"owner", j.lease_owner}, {"attempt", j.attempt}});
    run("UPDATE jobs SET prefetched = $2 FROM " + m_db->json_rows("$1", {{"id", "bigint"}, {"owner", "text"}, {"attempt", "integer"}}) +
            " WHERE jobs.id = u.id AND " + m_db->json_ids_match("jobs.id", "$1") +
            " AND jobs.lease_owner = u.owner AND jobs.attempt = u.attempt AND " + kStillRunning + " RETURNING jobs.id",
        {refs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), std::int64_t(prefetched ? 1 : 0)});
}

std::unique_ptr<Waker> SqlStore::open_waker() {
    return retry([&] { return m_db->open_waker(); }, default_db_retry_policy());
}

std::vector<Job> SqlStore::claim_once(const ClaimRequest& req) {
    Params params{req.worker_id, req.lease_ms};
    // The conditions every queue shares.
    std::string cond = "c.state = 'pending' AND c.run_at <= wfq_now_ms()";
    add_in(cond, params, "c.type", req.types);
    // A job with a lock key is a candidate only when no job with that key runs and it is the
    // oldest due job of its key, so one batch never holds two jobs of one key.
    if (req.unkeyed_only)
        cond += " AND c.lock_key IS NULL";
    else
        cond += " AND (c.lock_key IS NULL OR (NOT EXISTS (SELECT 1 FROM jobs r WHERE r.lock_key = c.lock_key AND "
                "r.state = 'running') AND c.id = (SELECT MIN(p.id) FROM jobs p WHERE p.lock_key = c.lock_key AND "
                "p.state = 'pending' AND p.run_at <= wfq_now_ms())))";
    // Likewise a job with an idempotency key (key modes let a newer job with the key wait
    // for the one that runs): none with the key runs, and it is the key's oldest due job.
    cond += " AND (c.key IS NULL OR (NOT EXISTS (SELECT 1 FROM jobs r WHERE r.key = c.key AND r.state IN " +
            std::string(kActiveStates) + " AND r.state = 'running') AND c.id = (SELECT MIN(p.id) FROM jobs p WHERE " +
            "p.key = c.key AND p.state IN " + kActiveStates + " AND p.state = 'pending' AND p.run_at <= wfq_now_ms())))";
    params.emplace_back(std::int64_t(req.limit));
    const std::string limit = " LIMIT $" + std::to_string(params.size());
    const std::string order = " ORDER BY c.priority DESC, c.run_at, c.id";
    auto queue_pick = [&](const std::string& queue, const char* columns) {
        params.emplace_back(queue);
        const std::string q = "$" + std::to_string(params.size());
        return std::string("SELECT ") + columns + " FROM jobs c WHERE c.queue = " + q + " AND " + queue_not_paused(q) +
               " AND " + cond + order + limit + m_db->skip_locked();
    };
    std::string pick;
    if (req.queues.empty()) {
        // Every queue: the claim index (queue, priority, run_at, id) gives no order across
        // queues, so this sorts every due job (the CLI always names its queues).
        pick = "SELECT c.id FROM jobs c WHERE " + no_paused_queue("c.queue") + " AND " + cond + order + limit +
               m_db->skip_locked();
    } else if (req.queues.size() == 1) {
        pick = queue_pick(req.queues[0], "c.id");  // the claim index gives the order
    } else {
        // Several queues: the index gives each queue's order, not theirs together, so
        // `queue IN (a, b)` sorted every due job of both (a worker on two queues with
        // 100,000 jobs waiting did 161 jobs/s). Instead each queue gives its first LIMIT
        // jobs in index order, and the first LIMIT of those are claimed: the same jobs, read
        // in order. On PostgreSQL each queue's pick locks its rows (SKIP LOCKED); those lost
        // to another queue's are free again at commit, and until then another worker's
        // claim passes over them (with a backlog that small, it may find nothing and wait
        // for its next wake-up or poll).
        std::string arms;
        int n = 0;
        for (const auto& q : distinct_queues(req.queues)) {
            if (n > 0) arms += " UNION ALL ";
            arms += "SELECT * FROM (" + queue_pick(q, "c.id, c.priority, c.run_at") + ") q" + std::to_string(++n);
        }
        pick = "SELECT c.id FROM (" + arms + ") c" + order + limit;
    }
    std::string sql = "WITH picked AS MATERIALIZED (" + pick +
                      ") UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, "
                      "lease_expires_at = wfq_now_ms() + $2, started_at = wfq_now_ms(), updated_at = wfq_now_ms() "
                      "WHERE id IN (SELECT id FROM picked) RETURNING " +
                      kJobColumns;
    std::vector<Job> jobs;
    Rows rows = m_db->exec(sql, params);
    jobs.reserve(rows.size());
    for (auto& r : rows) jobs.push_back(job_from_row(std::move(r)));
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
        if (a.priority != b.priority) return a.priority > b.priority;
        if (a.run_at != b.run_at) return a.run_at < b.run_at;
        return a.id < b.id;
    });
    return jobs;
}

}  // namespace wfq::store
