// Schedules: cron entries, and firing a tick (compare-and-set on next_run) with its job.
#include "sql_store.h"

#include "rows.h"

#include <wfq/limits.h>

namespace wfq::store {

void SqlStore::schedule_put(const Schedule& s) {
    transact([&] {
        m_db->exec("INSERT INTO schedules (name, cron, tz, type, queue, payload, priority, max_attempts, key, org, repo, "
                   "paused, next_run, key_mode, limit_keys, grp, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                   "$9, $10, $11, $12, $13, $14, $15, $16, wfq_now_ms(), wfq_now_ms()) ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, "
                   "tz = excluded.tz, type = excluded.type, queue = excluded.queue, payload = excluded.payload, "
                   "priority = excluded.priority, max_attempts = excluded.max_attempts, key = excluded.key, "
                   "org = excluded.org, repo = excluded.repo, paused = excluded.paused, next_run = excluded.next_run, "
                   "key_mode = excluded.key_mode, limit_keys = excluded.limit_keys, grp = excluded.grp, "
                   "updated_at = excluded.updated_at",
                   {s.name, s.cron, s.tz, s.type, s.queue, s.payload, std::int64_t(s.priority),
                    std::int64_t(s.max_attempts), opt(s.key), opt(s.org), opt(s.repo), std::int64_t(s.paused ? 1 : 0),
                    opt(s.next_run), std::string(to_string(s.key_mode)),
                    opt(s.limits.empty() ? std::nullopt : std::optional<std::string>(limit_keys_to_json(s.limits))),
                    opt(s.group)});
    });
}

std::vector<Schedule> SqlStore::schedules() {
    std::vector<Schedule> out;
    for (const auto& r : run(std::string("SELECT ") + kScheduleColumns + " FROM schedules ORDER BY name", {}))
        out.push_back(schedule_from_row(r));
    return out;
}

bool SqlStore::schedule_remove(const std::string& name) {
    return transact([&] { return !m_db->exec("DELETE FROM schedules WHERE name = $1 RETURNING name", {name}).empty(); });
}

bool SqlStore::schedule_set_paused(const std::string& name, bool paused, std::optional<TimeMs> next_run) {
    return transact([&] {
        return !m_db->exec("UPDATE schedules SET paused = $2, next_run = COALESCE($3, next_run), updated_at = wfq_now_ms() "
                           "WHERE name = $1 RETURNING name",
                           {name, std::int64_t(paused ? 1 : 0), opt(next_run)})
                    .empty();
    });
}

std::optional<std::int64_t> SqlStore::schedule_fire(const std::string& name, TimeMs expected_next_run, TimeMs tick,
                                                    TimeMs new_next_run, const NewJob& job) {
    return transact("schedule_fire", [&]() -> std::optional<std::int64_t> {
        // Compare-and-set on next_run: a second worker racing for this tick (on PostgreSQL it
        // waits for the first's row lock, then re-checks) changes nothing.
        if (m_db->exec("UPDATE schedules SET next_run = $3, last_run = $4, updated_at = wfq_now_ms() WHERE name = $1 "
                       "AND next_run = $2 AND paused = 0 RETURNING name",
                       {name, expected_next_run, new_next_run, tick})
                .empty())
            return std::nullopt;
        std::vector<NewJob> jobs{job};
        if (job.group) assign_turns(jobs);
        std::vector<EnqueueResult> results;
        insert_rows(jobs, 0, 1, results);
        m_db->exec("UPDATE schedules SET last_job_id = $2 WHERE name = $1", {name, results.at(0).id});
        after_insert(jobs);
        return results.at(0).id;
    });
}

}  // namespace wfq::store
