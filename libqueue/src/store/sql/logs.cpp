// Job logs: each attempt's handler stderr, written with the completer's flush (one statement for
// the batch, or one prepared statement per attempt where that is cheaper), and while the attempt
// runs by the completer's live-log writes; read by `jobs logs`.
#include "sql_store.h"

#include "sql_text.h"

#include <wfq/json_check.h>

namespace wfq::store {

namespace {

// A rerun of the same attempt number (snoozed, deferred, handed back) replaces its log: the
// cap holds per attempt.
constexpr const char* kUpsertLog =
    " ON CONFLICT (job_id, attempt) DO UPDATE SET at = excluded.at, log = excluded.log, "
    "dropped_bytes = excluded.dropped_bytes";

}  // namespace

void SqlStore::insert_attempt_logs(const std::vector<Outcome>& outcomes, const std::vector<OutcomeStatus>& status) {
    std::vector<std::tuple<std::int64_t, int, const AttemptLog*>> logs;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const Outcome& o = outcomes[i];
        if (o.log.empty() || status[i] == OutcomeStatus::lost) continue;
        logs.emplace_back(o.job.id, o.job.attempt, &o.log);
    }
    upsert_logs(logs, false);
}

void SqlStore::upsert_logs(const std::vector<std::tuple<std::int64_t, int, const AttemptLog*>>& logs, bool only_existing) {
    if (logs.empty()) return;
    const char* exists = only_existing ? " AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = u.id)" : "";
    if (m_db->statement_per_row()) {
        const std::string sql =
            only_existing ? std::string("INSERT INTO job_logs (job_id, attempt, at, log, dropped_bytes) SELECT $1, $2, wfq_now_ms(), $3, $4 "
                                        "WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.id = $1)") + kUpsertLog
                          : std::string("INSERT INTO job_logs (job_id, attempt, at, log, dropped_bytes) VALUES ($1, $2, wfq_now_ms(), $3, $4)") +
                                kUpsertLog;
        for (const auto& [id, attempt, log] : logs)
            m_db->exec(sql, {id, std::int64_t(attempt), log->text, log->dropped_bytes});
        return;
    }
    std::string rows = "[";
    for (const auto& [id, attempt, log] : logs) {
        if (rows.size() > 1) rows += ',';
        rows += "{\"id\":" + std::to_string(id) + ",\"attempt\":" + std::to_string(attempt) + ",\"log\":";
        append_json_string(rows, log->text);
        rows += ",\"dropped\":" + std::to_string(log->dropped_bytes) + "}";
    }
    rows += ']';
    // WHERE true: SQLite needs it to tell ON CONFLICT from a join's ON after a SELECT.
    m_db->exec("INSERT INTO job_logs (job_id, attempt, at, log, dropped_bytes) SELECT u.id, u.attempt, wfq_now_ms(), u.log, "
               "u.dropped FROM " +
                   m_db->json_rows("$1", {{"id", "bigint"}, {"attempt", "integer"}, {"log", "text"}, {"dropped", "bigint"}}) +
                   " WHERE true" + exists + kUpsertLog,
               {rows});
}

void SqlStore::write_running_logs(const std::vector<StoredAttemptLog>& logs) {
    std::vector<std::tuple<std::int64_t, int, const AttemptLog*>> rows;
    rows.reserve(logs.size());
    for (const auto& l : logs) rows.emplace_back(l.job_id, l.attempt, &l.log);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    upsert_logs(rows, true);
}

std::vector<StoredAttemptLog> SqlStore::job_logs(std::int64_t job_id, std::optional<int> attempt) {
    Rows rows = attempt ? run("SELECT attempt, at, log, dropped_bytes FROM job_logs WHERE job_id = $1 AND attempt = $2",
                              {job_id, std::int64_t(*attempt)})
                        : run("SELECT attempt, at, log, dropped_bytes FROM job_logs WHERE job_id = $1 ORDER BY attempt", {job_id});
    std::vector<StoredAttemptLog> out;
    for (auto& r : rows) {
        StoredAttemptLog l;
        l.job_id = job_id;
        l.attempt = static_cast<int>(r.i64(0));
        l.at_ms = r.i64(1);
        l.log.text = r.take_str(2);
        l.log.dropped_bytes = r.i64(3);
        out.push_back(std::move(l));
    }
    return out;
}

}  // namespace wfq::store
