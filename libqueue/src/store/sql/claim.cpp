// Claims (one statement per claim), the idle worker's next due time, lease renewal and
// prefetch marks.
#include "sql_store.h"

#include "rows.h"
#include "sql_text.h"

#include <nlohmann/json.hpp>

#include <wfq/clock.h>
#include <wfq/limits.h>

#include <algorithm>
#include <map>
#include <set>

namespace wfq::store {

namespace {

void sort_claimed(std::vector<Job>& jobs) {
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
        // The claim's order: priority, then the turn key (run_at in ns plus turn_lag), then id.
        if (a.priority != b.priority) return a.priority > b.priority;
        const auto ka = turn_key_ns(a.run_at, a.turn_lag);
        const auto kb = turn_key_ns(b.run_at, b.turn_lag);
        if (ka != kb) return ka < kb;
        return a.id < b.id;
    });
}

constexpr std::int64_t kLimitsRecheckNs = 100'000'000;  // how stale "no limited jobs" may be

}  // namespace

std::vector<Job> SqlStore::claim_batch(const ClaimRequest& req) {
    // The fast claim is one statement outside a transaction; a limited claim (admission, rate
    // tokens) is a transaction of its own after it.
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    std::vector<Job> jobs = retry([&] { return claim_fast(req); }, default_db_retry_policy());
    if (!req.unkeyed_only && limited_claim_due(jobs.size(), req.limit)) {
        ClaimRequest rest = req;
        rest.limit = req.limit - static_cast<int>(jobs.size());
        if (rest.limit > 0)
            for (auto& j : transact("claim", [&] { return claim_limited(rest); })) jobs.push_back(std::move(j));
    }
    sort_claimed(jobs);
    return jobs;
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
    // Held-back jobs count as due too (a worker polls for them, as for a busy lock key): the
    // walk runs once per range of the claim index, admitted (held = 0) and held back (1).
    std::optional<TimeMs> first;
    for (const auto& queue : distinct_queues(queues))
        for (const char* held : {"0", "1"})
            if (auto at = first_run_at(queue, held, types, true); at && (!first || *at < *first)) first = at;
    return first;
}

std::optional<TimeMs> SqlStore::first_run_at(const std::string& queue, const char* held, const std::vector<std::string>& types,
                                             bool unpaused) {
    Params params{queue};
    std::string of_type;
    add_in(of_type, params, "d.type", types);
    const std::string h = std::string(" AND c.held = ") + held;
    // Each priority's first job in the claim order (by turn key): due at its run_at, or when its
    // turn key comes, whichever is later (a group's turn may come after its run_at).
    const std::string key = turn_key("d");
    return run("WITH RECURSIVE pr(p) AS (SELECT (SELECT c.priority FROM jobs c WHERE c.state = 'pending' AND "
               "c.queue = $1" + h + " ORDER BY c.priority DESC LIMIT 1) UNION ALL SELECT (SELECT c.priority FROM jobs c "
               "WHERE c.state = 'pending' AND c.queue = $1" + h + " AND c.priority < pr.p ORDER BY c.priority DESC LIMIT 1) "
               "FROM pr WHERE pr.p IS NOT NULL) "
               "SELECT MIN((SELECT CASE WHEN (" + key + " + 999999) / 1000000 > d.run_at THEN (" + key +
                   " + 999999) / 1000000 ELSE d.run_at END FROM jobs d WHERE d.state = 'pending' AND d.queue = $1 AND d.held = " +
                   held + " AND d.priority = pr.p" + of_type + " ORDER BY " + key + " LIMIT 1)) FROM pr WHERE pr.p IS NOT NULL" +
                   (unpaused ? " AND " + queue_not_paused("$1") : std::string()),
               params)
        .at(0)
        .opt_i64(0);
}

namespace {
// A worker's jobs as a JSON array of {id, owner, attempt}, in ascending id (in_id_order).
std::string job_refs_json(const std::vector<JobRef>& jobs) {
    nlohmann::json refs = nlohmann::json::array();
    for (std::size_t i : in_id_order(jobs, [](const JobRef& j) { return j.id; }))
        refs.push_back({{"id", jobs[i].id}, {"owner", jobs[i].lease_owner}, {"attempt", jobs[i].attempt}});
    return refs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

std::vector<std::int64_t> SqlStore::renew_leases(const std::vector<JobRef>& jobs, std::int64_t lease_ms) {
    if (jobs.empty()) return {};
    auto rows = transact("renew_leases", [&] {
        // A renewal that cannot finish within a third of the lease is of no use: the next one is due.
        m_db->limit_statement_time(std::max<std::int64_t>(1000, lease_ms / 3));
        return m_db->exec("UPDATE jobs SET lease_expires_at = wfq_now_ms() + $2 FROM " +
                              m_db->json_rows("$1", {{"id", "bigint"}, {"owner", "text"}, {"attempt", "integer"}}) +
                              " WHERE jobs.id = u.id AND " + m_db->json_ids_match("jobs.id", "$1") +
                              " AND jobs.lease_owner = u.owner AND jobs.attempt = u.attempt AND " + kStillRunning +
                              " RETURNING jobs.id",
                          {job_refs_json(jobs), lease_ms});
    });
    std::set<std::int64_t> kept;
    for (const auto& r : rows) kept.insert(r.i64(0));
    std::vector<std::int64_t> lost;
    for (const auto& j : jobs)
        if (!kept.count(j.id)) lost.push_back(j.id);
    return lost;
}

void SqlStore::set_prefetched(const std::vector<JobRef>& jobs, bool prefetched) {
    if (jobs.empty()) return;
    run("UPDATE jobs SET prefetched = $2 FROM " + m_db->json_rows("$1", {{"id", "bigint"}, {"owner", "text"}, {"attempt", "integer"}}) +
            " WHERE jobs.id = u.id AND " + m_db->json_ids_match("jobs.id", "$1") +
            " AND jobs.lease_owner = u.owner AND jobs.attempt = u.attempt AND " + kStillRunning + " RETURNING jobs.id",
        {job_refs_json(jobs), std::int64_t(prefetched ? 1 : 0)});
}

std::unique_ptr<Waker> SqlStore::open_waker() {
    return retry([&] { return m_db->open_waker(); }, default_db_retry_policy());
}

std::string SqlStore::claim_pick(const ClaimRequest& req, Params& params, const char* columns) {
    // The conditions every queue shares. Held-back jobs (held = 1) sit in a range of the claim
    // index of their own, so the claim never reads them, however many there are.
    // Group turns: a job's turn key (run_at in ns plus its lag) comes at or before now. For a job
    // without a group it is its run_at; a grouped job's may come later than its run_at (its
    // group's turn), and jobs not yet due have keys after now: the range of keys up to now is all
    // a claim reads of a priority. (run_at <= now stays: a job never runs before its run_at.)
    const std::string key = turn_key("c");
    std::string cond = "c.state = 'pending' AND c.held = 0 AND c.run_at <= wfq_now_ms() AND " + key +
                       " <= wfq_now_ms() * 1000000";
    add_in(cond, params, "c.type", req.types);
    if (req.unkeyed_only) cond += " AND c.limit_keys IS NULL";
    // A job with an idempotency key (key modes let a newer job with the key wait for the
    // one that runs): none with the key runs, and it is the key's oldest due job.
    cond += " AND (c.key IS NULL OR (NOT EXISTS (SELECT 1 FROM jobs r WHERE r.key = c.key AND r.state IN " +
            std::string(kActiveStates) + " AND r.state = 'running') AND c.id = (SELECT MIN(p.id) FROM jobs p WHERE " +
            "p.key = c.key AND p.state IN " + kActiveStates + " AND p.state = 'pending' AND p.run_at <= wfq_now_ms())))";
    params.emplace_back(std::int64_t(req.limit));
    const std::string limit = " LIMIT $" + std::to_string(params.size());
    const std::string order = " ORDER BY c.priority DESC, " + key + ", c.id";
    auto queue_pick = [&](const std::string& queue, const std::string& cols) {
        params.emplace_back(queue);
        const std::string q = "$" + std::to_string(params.size());
        return "SELECT " + cols + " FROM jobs c WHERE c.queue = " + q + " AND " + queue_not_paused(q) + " AND " + cond +
               order + limit + m_db->skip_locked();
    };
    if (req.queues.empty()) {
        // Every queue: the claim index (queue, held, priority, turn key, id) gives no order across
        // queues, so this sorts every due job (the CLI always names its queues).
        return std::string("SELECT ") + columns + " FROM jobs c WHERE " + no_paused_queue("c.queue") + " AND " + cond +
               order + limit + m_db->skip_locked();
    }
    if (req.queues.size() == 1) return queue_pick(req.queues[0], columns);  // the claim index gives the order
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
        arms += "SELECT * FROM (" + queue_pick(q, std::string(columns) + ", c.priority, " + key + " AS turn_key") + ") q" +
                std::to_string(++n);
    }
    return std::string("SELECT ") + columns + " FROM (" + arms + ") c ORDER BY c.priority DESC, c.turn_key, c.id" + limit;
}


std::vector<Job> SqlStore::claim_fast(const ClaimRequest& req) {
    Params params{req.worker_id, req.lease_ms};
    // Jobs with limit keys among the first LIMIT are left for claim_limited: they were
    // admitted (their slots are taken) but may still need a rate token.
    std::string sql = "WITH picked AS MATERIALIZED (" + claim_pick(req, params, "c.id, c.limit_keys") +
                      ") UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, "
                      "lease_expires_at = wfq_now_ms() + $2, started_at = wfq_now_ms(), updated_at = wfq_now_ms() "
                      "WHERE id IN (SELECT id FROM picked WHERE limit_keys IS NULL) RETURNING " +
                      kJobColumns;
    std::vector<Job> jobs;
    Rows rows = m_db->exec(sql, params);
    jobs.reserve(rows.size());
    for (auto& r : rows) jobs.push_back(job_from_row(std::move(r)));
    return jobs;
}

bool SqlStore::limited_claim_due(std::size_t fast_claimed, int limit) {
    const std::int64_t now_ns = SystemClock::instance().steady_ns();
    if (now_ns - m_limits_checked_ns >= kLimitsRecheckNs) {
        // Held-back jobs always come with a key to admit (limit_freed), a slot holder whose end
        // frees one (job_limits) or a wake-up time: with none of those, no job has limit keys.
        m_limits_active = !m_db->exec("SELECT 1 FROM limit_freed UNION ALL SELECT 1 FROM (SELECT 1 FROM job_limits LIMIT 1) a "
                                      "UNION ALL SELECT 1 FROM limit_state WHERE wake_at IS NOT NULL LIMIT 1")
                               .empty();
        m_limits_checked_ns = now_ns;
    }
    if (!m_limits_active) return false;
    // A batch the fast claim could not fill may have limited jobs in it; and however busy the
    // queue, admission runs now and then so held-back jobs are not starved by unlimited ones.
    return static_cast<int>(fast_claimed) < limit || now_ns - m_limited_claim_ns >= kLimitsRecheckNs;
}

std::vector<Job> SqlStore::claim_once(const ClaimRequest& req) {
    std::vector<Job> jobs = claim_fast(req);
    if (!req.unkeyed_only && limited_claim_due(jobs.size(), req.limit)) {
        ClaimRequest rest = req;
        rest.limit = req.limit - static_cast<int>(jobs.size());
        if (rest.limit > 0)
            for (auto& j : claim_limited(rest)) jobs.push_back(std::move(j));
    }
    sort_claimed(jobs);
    return jobs;
}

std::vector<Job> SqlStore::claim_limited(const ClaimRequest& req) {
    m_limited_claim_ns = SystemClock::instance().steady_ns();
    // One flow-control transaction at a time (PostgreSQL: a transaction advisory lock; SQLite's
    // writers are serialised already), so slot counts and buckets are exact and their readers
    // never wait on each other in a cycle. Outcomes free slots without this lock.
    m_db->lock_name_for_transaction("wfq.limits");
    const TimeMs now = m_db->exec("SELECT wfq_clock_ms()").at(0).i64(0);
    const std::vector<LimitRule> rules = load_rules();
    admit_held(now, rules);
    Params params;
    std::string pick = claim_pick(req, params, "c.id, c.limit_keys");
    std::vector<std::int64_t> start;
    std::map<std::string, std::pair<double, bool>> buckets;  // key -> tokens now, spent
    auto bucket = [&](const std::string& key) -> double& {
        auto it = buckets.find(key);
        if (it == buckets.end()) it = buckets.emplace(key, std::make_pair(bucket_tokens({key}, rules, now).at(key), false)).first;
        return it->second.first;
    };
    for (const auto& r : m_db->exec(pick, params)) {
        const std::int64_t id = r.i64(0);
        if (r.is_null(1)) {
            start.push_back(id);
            continue;
        }
        // Admitted: its slots are taken. A rate-limited key also needs a token, spent only now
        // that the job really starts; without one it is held back until the next token.
        std::optional<std::string> short_of;
        std::vector<std::string> rated;
        for (const auto& key : limit_keys_from_json(r.str(1))) {
            const LimitRule* rule = rule_for_key(rules, key);
            if (!rule || !rule->rate_n) continue;
            if (bucket(key) < 1) {
                short_of = key;
                m_db->exec(kSetWake, {key, next_token_at(*rule, bucket(key), now)});
                break;
            }
            rated.push_back(key);
        }
        if (short_of) {
            m_db->exec("UPDATE jobs SET held = 1, held_by = $2 WHERE id = $1", {id, *short_of});
            continue;
        }
        for (const auto& key : rated) {
            buckets[key].first -= 1;
            buckets[key].second = true;
        }
        start.push_back(id);
    }
    for (const auto& [key, b] : buckets)
        if (b.second)
            m_db->exec("INSERT INTO limit_state (key, tokens, refilled_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE "
                       "SET tokens = excluded.tokens, refilled_at = excluded.refilled_at",
                       {key, b.first, now});
    if (start.empty()) return {};
    nlohmann::json ids = nlohmann::json::array();
    for (auto id : start) ids.push_back({{"id", id}});
    std::vector<Job> jobs;
    for (auto& r : m_db->exec("UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $2, "
                              "lease_expires_at = wfq_now_ms() + $3, started_at = $4, updated_at = wfq_now_ms() "
                              "WHERE " + m_db->json_ids_match("id", "$1") + " RETURNING " + kJobColumns,
                              {ids.dump(), req.worker_id, req.lease_ms, now}))
        jobs.push_back(job_from_row(std::move(r)));
    return jobs;
}

}  // namespace wfq::store
