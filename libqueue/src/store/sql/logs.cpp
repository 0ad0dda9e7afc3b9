// Job logs: each attempt's handler stderr, written with the completer's flush (one statement for
// the batch, or one prepared statement per attempt where that is cheaper) and read by `jobs logs`.
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
    const bool per_row = m_db->statement_per_row();
    std::string rows = "[";
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const Outcome& o = outcomes[i];
        if (o.log.empty() || status[i] == OutcomeStatus::lost) continue;
        if (per_row) {
            m_db->exec(std::string("INSERT INTO job_logs (job_id, attempt, at, log, dropped_bytes) VALUES ($1, $2, wfq_now_ms(), $3, $4)") +
                           kUpsertLog,
                       {o.job.id, std::int64_t(o.job.attempt), o.log.text, o.log.dropped_bytes});
            continue;
        }
        if (rows.size() > 1) rows += ',';
        rows += "{\"id\":" + std::to_string(o.job.id) + ",\"attempt\":" + std::to_string(o.job.attempt) + ",\"log\":";
        append_json_string(rows, o.log.text);
        rows += ",\"dropped\":" + std::to_string(o.log.dropped_bytes) + "}";
    }
    rows += ']';
    if (rows.size() <= 2) return;
    // WHERE true: SQLite needs it to tell ON CONFLICT from a join's ON after a SELECT.
    m_db->exec("INSERT INTO job_logs (job_id, attempt, at, log, dropped_bytes) SELECT u.id, u.attempt, wfq_now_ms(), u.log, "
               "u.dropped FROM " +
                   m_db->json_rows("$1", {{"id", "bigint"}, {"attempt", "integer"}, {"log", "text"}, {"dropped", "bigint"}}) +
                   " WHERE true" + kUpsertLog,
               {rows});
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
