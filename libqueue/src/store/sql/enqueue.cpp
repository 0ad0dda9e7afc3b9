// Enqueue: multi-row INSERTs, COPY for many jobs without keys where the backend has it, and
// one job at a time under its key's lock for jobs with an idempotency key (key modes).
#include "sql_store.h"

#include "sql_text.h"

#include <wfq/json_check.h>
#include <wfq/limits.h>

#include <algorithm>
#include <set>

namespace wfq::store {
namespace {

// The one pending job of a key that has not started (the unique index jobs_key_unstarted).
constexpr const char* kUnstartedOfKey = "WHERE key = $1 AND state = 'pending' AND started_at IS NULL";

constexpr std::size_t kEnqueueColumns = 19;
constexpr const char* kInsertColumns =
    "type, queue, payload, priority, run_at, max_attempts, key, lock_key, org, repo, correlation_id, traceparent, "
    "tracestate, limit_keys, held, held_by, grp, turn_lag, state, attempt, created_at, updated_at";
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

std::vector<EnqueueResult> SqlStore::enqueue_batch(const std::vector<NewJob>& given, const EnqueueHook& hook) {
    auto phase = [&](EnqueuePhase p) {
        if (hook) hook(p);
    };
    const bool grouped = std::any_of(given.begin(), given.end(), [](const NewJob& j) { return j.group.has_value(); });
    return transact("enqueue", [&] {
        // Grouped jobs get their place in their group's turns (turns.cpp) once this batch's
        // turn to take ids came and before the next batch's does (OrderedWriters: a batch waits
        // for the one before it to take its ids, and commits after it), so batches lock their
        // groups' rows in input order and never wait on each other in a cycle.
        std::vector<NewJob> turned;
        if (grouped) turned = given;
        const std::vector<NewJob>& jobs = grouped ? turned : given;
        std::vector<EnqueueResult> results;
        results.reserve(jobs.size());
        bool keyed = std::any_of(jobs.begin(), jobs.end(), [](const NewJob& j) { return j.key.has_value(); });
        // Many jobs without idempotency keys travel by COPY where the backend has it; a batch
        // with keys is inserted (a keyed job depends on the jobs holding its key).
        if (jobs.size() >= kCopyAtLeast && !keyed && m_db->has_copy()) {
            copy_rows(jobs, results, phase, grouped ? &turned : nullptr);
        } else {
            phase(EnqueuePhase::ids);  // the ids come with the inserts
            if (grouped) assign_turns(turned);
            insert_rows(jobs, 0, jobs.size(), results);
            phase(EnqueuePhase::ids_taken);
        }
        after_insert(jobs);
        phase(EnqueuePhase::commit);
        return results;
    });
}

void SqlStore::after_insert(const std::vector<NewJob>& jobs) {
    // The keys new held-back jobs wait for, once each, for the next admission pass.
    std::set<std::string> waiting_keys;
    for (const auto& j : jobs)
        if (auto c = limit_columns(j); c.held_by) waiting_keys.insert(*c.held_by);
    for (const auto& k : waiting_keys) m_db->exec("INSERT INTO limit_freed (key) VALUES ($1)", {k});
    if (!waiting_keys.empty()) m_limits_active = true;  // this process's next claim admits them
    std::set<std::string> queues;
    for (const auto& j : jobs) queues.insert(j.queue);
    for (const auto& q : queues) m_db->notify_enqueued(q);
}

// COPY with ids taken from the sequence first (one round trip), so results keep their order.
template <typename Phase>
void SqlStore::copy_rows(const std::vector<NewJob>& jobs, std::vector<EnqueueResult>& results, Phase& phase,
                         std::vector<NewJob>* to_turn) {
    phase(EnqueuePhase::ids);
    // The batch's queues are registered (job_queues, migration 20) in its turn, with its ids: the
    // trigger on the COPY below then finds them. Left to the trigger, a later batch whose COPY
    // ended first registered a new queue uncommitted, this batch's trigger waited for that
    // batch's commit, and that batch for this one's (OrderedWriters): a wait no server sees as a
    // deadlock, and the enqueue hung. A batch waits here only for an earlier one.
    std::set<std::string> queue_set;
    for (const auto& j : jobs) queue_set.insert(j.queue);
    std::string queues = "[";
    for (const auto& q : queue_set) {
        if (queues.size() > 1) queues += ',';
        append_json_string(queues, q);
    }
    queues += ']';
    auto ids = m_db->exec("WITH seen AS (INSERT INTO job_queues (queue) SELECT u.q FROM jsonb_array_elements_text($2::jsonb) AS u(q) "
                          "WHERE NOT EXISTS (SELECT 1 FROM job_queues k WHERE k.queue = u.q) ON CONFLICT DO NOTHING) "
                          "SELECT wfq_now_ms(), nextval('jobs_id_seq') FROM generate_series(1, $1)",
                          {std::int64_t(jobs.size()), queues});
    // Before the next batch may take its ids: it takes its groups' rows after this one, never
    // first (it would hold them while waiting for this batch's commit, and this batch for them).
    if (to_turn) assign_turns(*to_turn);  // (jobs is *to_turn)
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
                        lc.held_by, j.group, std::to_string(j.turn_lag)});
        results.push_back({id, false});
    }
    if (!m_db->copy_jobs(rows)) throw Error(ErrorCode::failure, "COPY is not available on this backend");
}

void SqlStore::insert_rows(const std::vector<NewJob>& jobs, std::size_t start, std::size_t end,
                           std::vector<EnqueueResult>& results) {
    // Producers of one key queue behind each other (keys in order, so two batches never
    // deadlock); what a keyed job finds is then settled until this transaction commits.
    std::set<std::string> keys;
    for (std::size_t i = start; i < end; ++i)
        if (jobs[i].key) keys.insert(*jobs[i].key);
    for (const auto& k : keys) m_db->lock_name_for_transaction(kKeyLockPrefix + k);
    // Runs of jobs without keys go in multi-row statements; a keyed job alone (what it does
    // depends on the jobs with its key, and on the keyed jobs before it in this batch).
    for (std::size_t i = start; i < end;) {
        if (jobs[i].key) {
            results.push_back(enqueue_keyed(jobs[i]));
            ++i;
            continue;
        }
        std::size_t run_end = i;
        while (run_end < end && !jobs[run_end].key) ++run_end;
        insert_unkeyed(jobs, i, run_end, results);
        i = run_end;
    }
}

void SqlStore::insert_unkeyed(const std::vector<NewJob>& jobs, std::size_t start, std::size_t end,
                              std::vector<EnqueueResult>& results) {
    const std::size_t per_statement = m_db->rows_per_statement();
    for (std::size_t first = start; first < end; first += per_statement) {
        std::size_t last = std::min(end, first + per_statement);
        std::string sql = std::string("INSERT INTO jobs (") + kInsertColumns + ") VALUES ";
        Params params;
        params.reserve((last - first) * kEnqueueColumns);
        for (std::size_t i = first; i < last; ++i) {
            if (i > first) sql += ", ";
            sql += insert_values(jobs[i], params);
        }
        sql += " RETURNING id";
        // Rows come back in VALUES order.
        for (const auto& r : m_db->exec(sql, params)) results.push_back({r.i64(0), false});
    }
}

// One job's VALUES tuple, its parameters appended to params.
std::string SqlStore::insert_values(const NewJob& j, Params& params) {
    std::size_t b = params.size();
    auto p = [&](std::size_t k) { return "$" + std::to_string(b + k); };
    // A job without a group (the common case) binds no parameters for its group columns.
    std::string sql = "(" + p(1) + ", " + p(2) + ", " + p(3) + ", " + p(4) + ", COALESCE(" + p(5) + ", wfq_now_ms() + " +
                      p(6) + "), " + p(7) + ", " + p(8) + ", " + p(9) + ", " + p(10) + ", " + p(11) + ", " + p(12) +
                      ", " + p(13) + ", " + p(14) + ", " + p(15) + ", " + p(16) + ", " + p(17) + ", " +
                      (j.group ? p(18) + ", " + p(19) : std::string("NULL, 0")) + ", 'pending', 0, wfq_now_ms(), wfq_now_ms())";
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
    if (j.group) {
        params.emplace_back(*j.group);
        params.emplace_back(j.turn_lag);
    }
    return sql;
}

// A job with a key, under its key's transaction lock. keep: an active job with the key is the
// answer (the one that has not started, else the newest). replace / preserve-run-at: the
// pending job that has not started takes the payload (and run_at); else a new job, and each
// started job with the key (running, waiting, pending again) notes in its timeline that the
// new one runs after it. The unique index of not-yet-started pending keys backs this up where
// a producer does not take the lock.
EnqueueResult SqlStore::enqueue_keyed(const NewJob& j) {
    for (int tries = 0;; ++tries) {
        if (j.key_mode == KeyMode::keep) {
            auto existing = m_db->exec(std::string("SELECT id FROM jobs WHERE key = $1 AND state IN ") + kActiveStates +
                                           " ORDER BY CASE WHEN state = 'pending' AND started_at IS NULL THEN 0 ELSE 1 END, id DESC LIMIT 1",
                                       {*j.key});
            if (!existing.empty()) return {existing[0].i64(0), true, false};
        } else {
            const bool new_run_at = j.key_mode == KeyMode::replace;
            auto replaced = new_run_at
                                ? m_db->exec("UPDATE jobs SET payload = $2, run_at = COALESCE($3, wfq_now_ms() + $4), "
                                             "turn_lag = $5, updated_at = wfq_now_ms() " + std::string(kUnstartedOfKey) + " RETURNING id",
                                             {*j.key, j.payload, opt(j.run_at), j.delay_ms, j.turn_lag})
                                : m_db->exec("UPDATE jobs SET payload = $2, updated_at = wfq_now_ms() " +
                                                 std::string(kUnstartedOfKey) + " RETURNING id",
                                             {*j.key, j.payload});
            if (!replaced.empty()) {
                std::int64_t id = replaced[0].i64(0);
                add_event(id, "replaced", "pending", 0, std::nullopt,
                          new_run_at ? "payload and run_at replaced by a new enqueue (key mode replace)"
                                     : "payload replaced by a new enqueue; run_at kept (key mode preserve-run-at)");
                return {id, true, true};
            }
        }
        Params params;
        std::string sql = std::string("INSERT INTO jobs (") + kInsertColumns + ") VALUES " + insert_values(j, params) +
                          " ON CONFLICT DO NOTHING RETURNING id";
        auto inserted = m_db->exec(sql, params);
        if (!inserted.empty()) {
            std::int64_t id = inserted[0].i64(0);
            if (j.key_mode != KeyMode::keep) note_superseded(*j.key, id);
            return {id, false, false};
        }
        // A producer that took no lock inserted the key first: look again.
        if (tries >= 5) throw Error(ErrorCode::db_unavailable, "idempotency key changed state during enqueue; retrying");
    }
}

void SqlStore::note_superseded(const std::string& key, std::int64_t by) {
    auto started = m_db->exec(std::string("SELECT id, state, attempt FROM jobs WHERE key = $1 AND id <> $2 AND state IN ") +
                                  kActiveStates + " AND started_at IS NOT NULL",
                              {key, by});
    for (const auto& r : started)
        add_event(r.i64(0), "superseded", r.str(1), static_cast<int>(r.i64(2)), std::nullopt,
                  "job " + std::to_string(by) + " takes the new payload and runs after this one",
                  "{\"by\":" + std::to_string(by) + "}");
}

}  // namespace wfq::store
