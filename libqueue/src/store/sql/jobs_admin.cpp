// Reading jobs (list, show), prune.
#include "sql_store.h"

#include "rows.h"
#include "sql_text.h"

#include <algorithm>

namespace wfq::store {
namespace {

constexpr std::int64_t kDefaultDeadAfterMs = 60000;  // `jobs list --stuck`
constexpr std::int64_t kProbeIds = 20000;            // `jobs list --state S`: the newest ids walked first

// The one state a filter confines the jobs to, none when it names several or none, or when it
// has an idempotency or lock key (whose own index leads).
std::optional<JobState> single_state(const JobFilter& f) {
    if (f.key || f.lock_key) return std::nullopt;
    if (f.states.size() == 1) return f.states[0];
    return std::nullopt;
}

}  // namespace

std::vector<Job> SqlStore::list_jobs(const JobFilter& f) {
    // The newest matching ids first (from an index alone where one holds the filtered
    // columns: a filter that matches few of many rows reads no row it rejects), then their rows.
    std::string sql = "SELECT id FROM jobs WHERE 1 = 1";
    Params params;
    auto all_in = [&](std::initializer_list<JobState> set) {
        return !f.states.empty() && std::all_of(f.states.begin(), f.states.end(), [&](JobState s) {
            return std::find(set.begin(), set.end(), s) != set.end();
        });
    };
    // The states as literals, so that SQLite can use a partial index (it does not for a bound
    // parameter, nor for `IN` of one value where the index says `=`). Failed, cancelled and
    // waiting jobs come newest first from jobs_state_list (state, id), its predicate beside them;
    // finished states carry jobs_finished's (see FINISHED_STATES_TERM).
    std::string states;
    for (auto s : f.states) states += std::string(states.empty() ? "'" : ", '") + to_string(s) + "'";
    if (f.states.size() == 1) sql += " AND state = " + states;
    else if (!f.states.empty()) sql += " AND state IN (" + states + ")";
    if (all_in({JobState::failed, JobState::cancelled, JobState::waiting})) sql += " AND " STATE_LIST_TERM;
    if (all_in({JobState::completed, JobState::failed, JobState::cancelled})) sql += " AND " FINISHED_STATES_TERM;
    if (f.lock_key) {
        sql += " AND lock_key = $" + std::to_string(params.size() + 1);
        params.emplace_back(*f.lock_key);
    }
    if (f.key) {
        sql += " AND key = $" + std::to_string(params.size() + 1);
        params.emplace_back(*f.key);
    }
    add_scope_filters(sql, params, "", f.scope);
    // --older-than N: the walk back from the newest job passed every job updated within N (a day
    // of 30 at 10M rows: 333,000 rows read to be rejected, 0.2-0.3 s; a week 0.4-1.3 s).
    // PostgreSQL checks updated_at in jobs_id_updated's entries (id, updated_at: migration 22).
    // SQLite's index is jobs_id_created (id, created_at), which only an enqueue writes: a job is
    // updated no earlier than it was created, so every job above the newest id created before
    // the bound was updated within N too. That id is found by walking the index alone (a week at
    // 10M rows: 80 ms, against 150 ms for the same walk reading updated_at from each row); the
    // rows are then walked from it down (none: no job is that old). The bound is computed once
    // (a subquery): SQLite calls wfq_now_ms(), a function of the connection's clock, for every
    // row it compares otherwise (a week's 2.3M calls: 60-130 ms).
    if (f.scope.older_than_ms && m_db->backend() == "sqlite") {
        sql += " AND id <= (SELECT id FROM jobs INDEXED BY jobs_id_created WHERE created_at < (SELECT wfq_now_ms() - $" +
               std::to_string(params.size() + 1) + ") ORDER BY id DESC LIMIT 1)";
        params.emplace_back(*f.scope.older_than_ms);
    }
    if (f.before_id) {  // keyset pagination: the page before the one that began at this id
        sql += " AND id < $" + std::to_string(params.size() + 1);
        params.emplace_back(*f.before_id);
    }
    // Scheduled and retrying jobs come newest first from their own partial indexes (jobs_scheduled,
    // jobs_retrying: migration 20), their predicates word for word. A job is due at once when
    // enqueued (run_at = created_at), so run_at > now implies run_at > created_at while the
    // clock has not gone back past the job's creation.
    if (f.scheduled_only) sql += " AND state = 'pending' AND run_at > created_at AND run_at > wfq_now_ms()";
    if (f.retrying_only) sql += " AND state = 'pending' AND attempt > 0";
    if (f.stuck) {
        sql += " AND state = 'running' AND (lease_expires_at < wfq_now_ms() OR lease_owner IN (SELECT id FROM workers "
               "WHERE last_heartbeat < wfq_now_ms() - $" + std::to_string(params.size() + 1) + "))";
        params.emplace_back(std::int64_t(kDefaultDeadAfterMs));
    }
    if (f.after_id) {
        sql += " AND id > $" + std::to_string(params.size() + 1);
        params.emplace_back(*f.after_id);
    }
    const char* order = f.after_id ? "ASC" : "DESC";
    auto page = [&](bool sorted, std::optional<std::int64_t> above) {
        std::string ids = sql;
        Params p = params;
        if (above) {
            ids += " AND id > $" + std::to_string(p.size() + 1);
            p.emplace_back(*above);
        }
        ids += std::string(sorted ? " ORDER BY +id " : " ORDER BY id ") + order + " LIMIT $" + std::to_string(p.size() + 1);
        p.emplace_back(std::int64_t(f.limit));
        std::vector<Job> jobs;
        for (const auto& r : run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id IN (" + ids + ") ORDER BY id " + order, p))
            jobs.push_back(job_from_row(r));
        if (!f.after_id) std::reverse(jobs.begin(), jobs.end());
        return jobs;
    };
    // A queue no job has ever had (job_queues: migration 20) has no jobs: the walk below would
    // read the whole table to find none.
    if (!f.scope.queues.empty() && queues_ever_used(f.scope.queues).empty()) return {};
    // Running jobs are few (the workers' slots): read from jobs_running_lease and sorted, not
    // found by walking the primary key back (`+id` is an expression, which no index orders).
    if (all_in({JobState::running}) || f.stuck || f.scope.running_longer_than_ms) return page(true, std::nullopt);
    // Failed, cancelled and waiting jobs come newest first from jobs_state_list (state, id),
    // scheduled and retrying ones from their own indexes, whatever their number.
    if (all_in({JobState::failed, JobState::cancelled, JobState::waiting}) || f.scheduled_only || f.retrying_only)
        return page(false, std::nullopt);
    // One state S: walking the primary key back from the newest job reads every newer job of
    // the other states first, the whole table for a state it lacks (0.7-1.4 s on SQLite at 10M
    // rows; `--state retrying` 2-3 s on PostgreSQL). So the newest kProbeIds ids are walked
    // first (S's jobs among the newest, a backlog's say, fill the page there). If none of them
    // is S's, S's own index (jobs_claim, jobs_finished) is read whole and sorted: S's size, not
    // the table's. If some are but not a page, S is counted up to the count cap: at most that
    // many are sorted likewise, more are walked on (ids have gaps: deleted jobs).
    const std::optional<JobState> state = single_state(f);
    if (!state) return page(false, std::nullopt);
    if (!f.after_id) {
        std::int64_t top = f.before_id ? *f.before_id : run("SELECT MAX(id) FROM jobs", {}).at(0).opt_i64(0).value_or(0) + 1;
        auto jobs = page(false, top - kProbeIds);
        if (static_cast<int>(jobs.size()) >= f.limit) return jobs;
        if (jobs.empty()) return page(true, std::nullopt);
    }
    return page(state_is_small(*state), std::nullopt);
}

bool SqlStore::state_is_small(JobState state) {
    // The state as a literal, and finished states with jobs_finished's predicate (SQLite uses a
    // partial index only for a term that implies it word for word).
    const bool finished = state == JobState::completed || state == JobState::failed || state == JobState::cancelled;
    const std::int64_t cap = exact_count_cap();
    return capped_count(std::string("state = '") + to_string(state) + "'" + (finished ? " AND " FINISHED_STATES_TERM : ""), {}, cap) <=
           cap;
}

std::optional<Job> SqlStore::get_job(std::int64_t id) {
    auto rows = run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1", {id});
    if (rows.empty()) return std::nullopt;
    return job_from_row(rows[0]);
}

std::int64_t SqlStore::prune(std::int64_t older_than_ms, const std::vector<JobState>& states, int batch_size,
                             const std::function<void(std::int64_t)>& progress) {
    // One state at a time, oldest first: each batch is one range of jobs_finished (state,
    // finished_at). (With the states in one IN list, which the index's own predicate already
    // implies, PostgreSQL scanned the whole index for every batch: 350 ms at 10M jobs.)
    std::int64_t total = 0;
    for (JobState state : states) {
        for (;;) {
            std::int64_t n = prune_batch(older_than_ms, state, batch_size);
            total += n;
            if (progress) progress(total);
            if (n < batch_size) break;
        }
    }
    return total;
}

std::int64_t SqlStore::prune_batch(std::int64_t older_than_ms, JobState state, int batch_size) {
    return transact([&] {
        auto rows = m_db->exec("SELECT id FROM jobs WHERE state = $1 AND " FINISHED_STATES_TERM " AND finished_at < wfq_now_ms() - $2 "
                               "ORDER BY finished_at LIMIT $3",
                               {std::string(to_string(state)), older_than_ms, std::int64_t(batch_size)});
        if (rows.empty()) return std::int64_t(0);
        Params ids;
        for (const auto& r : rows) ids.emplace_back(r.i64(0));
        std::string in = "(" + placeholders(1, ids.size()) + ")";
        m_db->exec("DELETE FROM job_events WHERE job_id IN " + in, ids);
        m_db->exec("DELETE FROM checkpoints WHERE job_id IN " + in, ids);
        m_db->exec("DELETE FROM job_logs WHERE job_id IN " + in, ids);
        m_db->exec("DELETE FROM jobs WHERE id IN " + in, ids);
        return static_cast<std::int64_t>(rows.size());
    });
}

}  // namespace wfq::store
