// Enqueue: multi-row INSERTs (ON CONFLICT for idempotency keys), or COPY for many jobs without
// keys where the backend has it.
#include "sql_store.h"

#include "sql_text.h"

#include <wfq/limits.h>

#include <algorithm>
#include <set>

namespace wfq::store {
namespace {

constexpr std::size_t kEnqueueColumns = 18;
constexpr std::size_t kCopyAtLeast = 32;

// A job with limit keys (its lock key among them) is stored held back, waiting for its first
// key: the next admission pass admits it when every key has room (see limits.cpp).
struct LimitColumns {
    std::optional<std::string> keys, held_by;
    std::int64_t held = 0;
};
LimitColumns limit_columns(const NewJob& j) {
    LimitColumns c;
    auto keys = effective_limit_keys(j.limits, j.lock_key);
    if (keys.empty()) return c;
    c.keys = limit_keys_to_json(keys);
    c.held_by = keys.front();
    c.held = 1;
    return c;
}

}  // namespace

EnqueueResult SqlStore::enqueue(const NewJob& job) { return enqueue_batch({job}).at(0); }

std::vector<EnqueueResult> SqlStore::enqueue_batch(const std::vector<NewJob>& jobs, const EnqueueHook& hook) {
    auto phase = [&](EnqueuePhase p) {
        if (hook) hook(p);
    };
    return transact("enqueue", [&] {
        std::vector<EnqueueResult> results;
        results.reserve(jobs.size());
        std::set<std::string> queues;
        bool keyed = std::any_of(jobs.begin(), jobs.end(), [](const NewJob& j) { return j.key.has_value(); });
        // Many jobs without idempotency keys travel by COPY where the backend has it; keys
        // need ON CONFLICT, so a batch with keys is inserted.
        if (jobs.size() >= kCopyAtLeast && !keyed && m_db->has_copy()) {
            copy_rows(jobs, results, phase);
        } else {
            phase(EnqueuePhase::ids);  // the ids come with the inserts
            // Multi-row statements: fewer round trips on PostgreSQL, less per-statement work on SQLite.
            const std::size_t per_statement = m_db->rows_per_statement();
            for (std::size_t start = 0; start < jobs.size(); start += per_statement) {
                std::size_t end = std::min(jobs.size(), start + per_statement);
                insert_rows(jobs, start, end, results);
            }
            phase(EnqueuePhase::ids_taken);
        }
        // The keys new held-back jobs wait for, once each, for the next admission pass.
        std::set<std::string> waiting_keys;
        for (const auto& j : jobs)
            if (auto c = limit_columns(j); c.held_by) waiting_keys.insert(*c.held_by);
        for (const auto& k : waiting_keys) m_db->exec("INSERT INTO limit_freed (key) VALUES ($1)", {k});
        if (!waiting_keys.empty()) m_limits_active = true;  // this process's next claim admits them
        for (const auto& j : jobs) queues.insert(j.queue);
        for (const auto& q : queues) m_db->notify_enqueued(q);
        phase(EnqueuePhase::commit);
        return results;
    });
}

// COPY with ids taken from the sequence first (one round trip), so results keep their order.
template <typename Phase>
void SqlStore::copy_rows(const std::vector<NewJob>& jobs, std::vector<EnqueueResult>& results, Phase& phase) {
    phase(EnqueuePhase::ids);
    auto ids = m_db->exec("SELECT wfq_now_ms(), nextval('jobs_id_seq') FROM generate_series(1, $1)",
                          {std::int64_t(jobs.size())});
    phase(EnqueuePhase::ids_taken);
    const std::int64_t now = ids.at(0).i64(0);
    const std::string now_text = std::to_string(now);
    std::vector<std::vector<std::optional<std::string>>> rows;
    rows.reserve(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        const NewJob& j = jobs[i];
        std::int64_t id = ids.at(i).i64(1);
        LimitColumns lc = limit_columns(j);
        rows.push_back({std::to_string(id), j.type, j.queue, j.payload, std::to_string(j.priority),
                        std::to_string(j.run_at ? *j.run_at : now + j.delay_ms), std::to_string(j.max_attempts),
                        j.lock_key, j.org, j.repo, j.correlation_id, j.traceparent, j.tracestate,
                        std::string("pending"), std::string("0"), now_text, now_text, lc.keys, std::to_string(lc.held),
                        lc.held_by});
        results.push_back({id, false});
    }
    if (!m_db->copy_jobs(rows)) throw Error(ErrorCode::failure, "COPY is not available on this backend");
}

void SqlStore::insert_rows(const std::vector<NewJob>& jobs, std::size_t start, std::size_t end,
                           std::vector<EnqueueResult>& results) {
    std::string sql =
        "INSERT INTO jobs (type, queue, payload, priority, run_at, max_attempts, key, lock_key, org, repo, "
        "correlation_id, traceparent, tracestate, limit_keys, held, held_by, state, attempt, created_at, updated_at) VALUES ";
    Params params;
    params.reserve((end - start) * kEnqueueColumns);
    for (std::size_t i = start; i < end; ++i) {
        const NewJob& j = jobs[i];
        std::size_t b = params.size();
        auto p = [&](std::size_t k) { return "$" + std::to_string(b + k); };
        if (i > start) sql += ", ";
        sql += "(" + p(1) + ", " + p(2) + ", " + p(3) + ", " + p(4) + ", COALESCE(" + p(5) + ", wfq_now_ms() + " + p(6) +
               "), " + p(7) + ", " + p(8) + ", " + p(9) + ", " + p(10) + ", " + p(11) + ", " + p(12) + ", " + p(13) +
               ", " + p(14) + ", " + p(15) + ", " + p(16) + ", " + p(17) + ", 'pending', 0, wfq_now_ms(), wfq_now_ms())";
        params.emplace_back(j.type);
        params.emplace_back(j.queue);
        params.emplace_back(j.payload);
        params.emplace_back(std::int64_t(j.priority));
        params.emplace_back(opt(j.run_at));
        params.emplace_back(j.delay_ms);
        params.emplace_back(std::int64_t(j.max_attempts));
        params.emplace_back(opt(j.key));
        params.emplace_back(opt(j.lock_key));
        params.emplace_back(opt(j.org));
        params.emplace_back(opt(j.repo));
        params.emplace_back(j.correlation_id);
        params.emplace_back(opt(j.traceparent));
        params.emplace_back(opt(j.tracestate));
        LimitColumns lc = limit_columns(j);
        params.emplace_back(opt(lc.keys));
        params.emplace_back(lc.held);
        params.emplace_back(opt(lc.held_by));
    }
    sql += " ON CONFLICT DO NOTHING RETURNING id, key";
    auto rows = m_db->exec(sql, params);
    // Rows come back in VALUES order; rows with a key that conflicted are missing.
    std::size_t r = 0;
    std::set<std::string> inserted_keys;
    for (std::size_t i = start; i < end; ++i) {
        const NewJob& j = jobs[i];
        bool inserted = r < rows.size() && (!j.key ? rows[r].is_null(1)
                                                   : (!rows[r].is_null(1) && rows[r].str(1) == *j.key &&
                                                      !inserted_keys.count(*j.key)));
        if (inserted) {
            if (j.key) inserted_keys.insert(*j.key);
            results.push_back({rows[r].i64(0), false});
            ++r;
            continue;
        }
        auto existing = m_db->exec(std::string("SELECT id FROM jobs WHERE key = $1 AND state IN ") + kActiveStates, {*j.key});
        if (existing.empty()) throw Error(ErrorCode::db_unavailable, "idempotency key changed state during enqueue; retrying");
        results.push_back({existing[0].i64(0), true});
    }
}

}  // namespace wfq::store
