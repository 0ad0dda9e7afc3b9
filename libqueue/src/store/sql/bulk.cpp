// Bulk retry, cancel and prune over a filter, compare-and-set on each job's state, and the
// control waker their cancels of running jobs wake.
#include "sql_store.h"

#include "sql_text.h"

#include <nlohmann/json.hpp>

#include <set>

namespace wfq::store {

std::int64_t SqlStore::count_matching(const BulkFilter& filter) {
    if (filter.only_finished_by_age()) {
        // One range of jobs_finished per state (not a pass over the whole table).
        std::int64_t total = 0;
        for (JobState state : filter.states)
            total += run("SELECT COUNT(*) FROM jobs WHERE state = $1 AND " FINISHED_STATES_TERM " AND finished_at < wfq_now_ms() - $2",
                         {std::string(to_string(state)), *filter.scope.older_than_ms})
                         .at(0)
                         .i64(0);
        return total;
    }
    Params params;
    std::string where = bulk_where(filter, params, "jobs.");
    return run("SELECT COUNT(*) FROM jobs WHERE " + where, params).at(0).i64(0);
}

std::vector<BulkCandidate> SqlStore::find_matching(const BulkFilter& filter, std::int64_t after_id, int limit) {
    Params params{after_id};
    std::string where = bulk_where(filter, params, "jobs.");
    std::string sql = "SELECT id, state FROM jobs WHERE id > $1 AND " + where + " ORDER BY id LIMIT $" +
                      std::to_string(params.size() + 1);
    params.emplace_back(std::int64_t(limit));
    std::vector<BulkCandidate> out;
    for (const auto& r : run(sql, params))
        out.push_back({r.i64(0), parse_job_state(r.str(1)).value_or(JobState::pending)});
    return out;
}

std::vector<std::int64_t> SqlStore::apply_bulk(BulkAction action, const BulkFilter& filter,
                                               const std::vector<BulkCandidate>& candidates, const std::string& actor) {
    if (candidates.empty()) return {};
    try {
        return transact("bulk", [&] { return apply_bulk_once(action, filter, candidates, actor); });
    } catch (const UniqueViolation&) {
        // Two retried jobs of one batch share an idempotency key: one at a time, so the
        // first is retried and the other skipped.
        std::vector<std::int64_t> changed;
        for (const auto& c : candidates) {
            try {
                auto one = transact("bulk", [&] { return apply_bulk_once(action, filter, {c}, actor); });
                changed.insert(changed.end(), one.begin(), one.end());
            } catch (const UniqueViolation&) {
            }
        }
        return changed;
    }
}

std::unique_ptr<Waker> SqlStore::open_control_waker() {
    return retry([&] { return m_db->open_control_waker(); }, default_db_retry_policy());
}

// The WHERE clause of a bulk filter; column names take prefix ("jobs.").
std::string SqlStore::bulk_where(const BulkFilter& f, Params& params, const std::string& prefix) {
    std::string sql = "1 = 1";
    std::vector<std::string> states, ids;
    for (auto s : f.states) states.emplace_back(to_string(s));
    add_in(sql, params, prefix + "state", states);
    if (!f.ids.empty()) {
        sql += " AND " + prefix + "id IN (" + placeholders(params.size() + 1, f.ids.size()) + ")";
        for (auto id : f.ids) params.emplace_back(id);
    }
    add_scope_filters(sql, params, prefix, f.scope);
    return sql;
}

// The scope `jobs list` shares with retry and cancel: type, queue, error class, org, repo,
// age by updated_at, and running time (a handler runs it, by started_at; never a prefetched job).
void SqlStore::add_scope_filters(std::string& sql, Params& params, const std::string& prefix, const JobScope& scope) {
    add_in(sql, params, prefix + "type", scope.types);
    add_in(sql, params, prefix + "queue", scope.queues);
    add_in(sql, params, prefix + "error_class", scope.error_classes);
    add_in(sql, params, prefix + "org", scope.orgs);
    add_in(sql, params, prefix + "repo", scope.repos);
    if (scope.older_than_ms) {
        sql += " AND " + prefix + "updated_at < wfq_now_ms() - $" + std::to_string(params.size() + 1);
        params.emplace_back(*scope.older_than_ms);
    }
    if (scope.newer_than_ms) {
        sql += " AND " + prefix + "updated_at >= wfq_now_ms() - $" + std::to_string(params.size() + 1);
        params.emplace_back(*scope.newer_than_ms);
    }
    if (scope.running_longer_than_ms) {
        sql += " AND " + prefix + "state = 'running' AND " + prefix + "prefetched = 0 AND " + prefix +
               "started_at < wfq_now_ms() - $" + std::to_string(params.size() + 1);
        params.emplace_back(*scope.running_longer_than_ms);
    }
}

std::vector<std::int64_t> SqlStore::apply_bulk_once(BulkAction action, const BulkFilter& filter,
                                                    const std::vector<BulkCandidate>& candidates, const std::string& actor) {
    nlohmann::json seen = nlohmann::json::array();
    for (const auto& c : candidates) seen.push_back({{"id", c.id}, {"state", to_string(c.state)}});
    Params params{seen.dump()};
    std::string where = bulk_where(filter, params, "jobs.");
    std::string from = m_db->json_rows("$1", {{"id", "bigint"}, {"state", "text"}});
    std::vector<std::int64_t> changed;
    if (action == BulkAction::prune) {
        auto rows = m_db->exec("DELETE FROM jobs WHERE id IN (SELECT jobs.id FROM jobs, " + from +
                                   " WHERE jobs.id = u.id AND jobs.state = u.state AND jobs.state IN ('completed', "
                                   "'failed', 'cancelled') AND " + where + ") RETURNING id",
                               params);
        if (rows.empty()) return changed;
        nlohmann::json gone = nlohmann::json::array();
        for (const auto& r : rows) {
            changed.push_back(r.i64(0));
            gone.push_back({{"id", r.i64(0)}});
        }
        std::string ids = "(SELECT u.id FROM " + m_db->json_rows("$1", {{"id", "bigint"}}) + ")";
        m_db->exec("DELETE FROM job_events WHERE job_id IN " + ids, {gone.dump()});
        m_db->exec("DELETE FROM checkpoints WHERE job_id IN " + ids, {gone.dump()});
        m_db->exec("DELETE FROM job_logs WHERE job_id IN " + ids, {gone.dump()});
        return changed;
    }
    std::string set, guard, kind, state, message;
    if (action == BulkAction::retry) {
        // A running job (only with --running-longer-than: a hung handler) keeps its attempt
        // count, so that its worker's late outcome (compare-and-set on the attempt) changes
        // nothing, and gets one more attempt if it had none left; its worker stops it.
        set = "state = 'pending', attempt = CASE WHEN jobs.state = 'running' THEN jobs.attempt ELSE 0 END, "
              "max_attempts = CASE WHEN jobs.state = 'running' AND jobs.max_attempts <= jobs.attempt THEN jobs.attempt + 1 "
              "ELSE jobs.max_attempts END, run_at = wfq_now_ms(), turn_lag = 0, lease_owner = NULL, lease_expires_at = NULL, prefetched = 0, "
              "finished_at = NULL, wait_event = NULL, wait_key = NULL, wait_deadline = NULL, updated_at = wfq_now_ms()";
        // Never a running job unless the filter asks for hung ones; never a job whose
        // idempotency key another active job now holds.
        guard = std::string(filter.scope.running_longer_than_ms ? "" : " AND jobs.state <> 'running'") +
                " AND (jobs.key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs o WHERE "
                "o.key = jobs.key AND o.id <> jobs.id AND o.state IN ('pending', 'running', 'waiting')))";
        kind = "retried";
        state = "pending";
        message = "retried by " + actor;
    } else {
        set = "state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, finished_at = wfq_now_ms(), "
              "updated_at = wfq_now_ms()";
        guard = " AND jobs.state IN ('pending', 'running', 'waiting')";
        kind = "cancelled";
        state = "cancelled";
        message = "cancelled by " + actor;
    }
    auto rows = m_db->exec("UPDATE jobs SET " + set + " FROM " + from +
                               " WHERE jobs.id = u.id AND jobs.state = u.state" + guard + " AND " + where +
                               " RETURNING jobs.id, jobs.attempt",  // SQLite: RETURNING sees jobs only
                           params);
    std::set<std::int64_t> was_running;
    for (const auto& c : candidates)
        if (c.state == JobState::running) was_running.insert(c.id);
    nlohmann::json events = nlohmann::json::array();
    bool stopped_running = false;
    for (const auto& r : rows) {
        changed.push_back(r.i64(0));
        stopped_running = stopped_running || was_running.count(r.i64(0));
        events.push_back({{"id", r.i64(0)}, {"kind", kind}, {"state", state},
                          {"attempt", r.i64(1)}, {"worker", nullptr},
                          {"message", message}, {"data", nlohmann::json{{"by", actor}}.dump()}});
    }
    if (!events.empty()) insert_events(events);
    if (stopped_running) {
        // Workers running these jobs renew their leases at once and stop the handlers.
        m_db->exec("DELETE FROM control_changes WHERE at < wfq_now_ms() - 3600000", {});
        m_db->exec("INSERT INTO control_changes (kind, subject, at) VALUES ('cancel', $1, wfq_now_ms())",
                   {std::to_string(rows.size())});
        m_db->notify_control("cancel");
    }
    if (action == BulkAction::retry && !changed.empty()) m_db->notify_enqueued("*");
    return changed;
}

}  // namespace wfq::store
