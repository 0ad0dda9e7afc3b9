// Pipelines: the current stage, checkpoints, and signals: sending one (resuming the jobs
// parked for it, else storing it), and parking a job for one (consuming a stored one at once).
#include "sql_store.h"

#include "rows.h"

#include <wfq/json_check.h>

namespace wfq::store {
namespace {

std::string json_quote(const std::string& s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

std::string spans_line(const Outcome& o) { return o.spans.empty() ? "" : o.spans + "\n"; }

}  // namespace

bool SqlStore::set_current_stage(const JobRef& job, const std::string& stage) {
    return !run("UPDATE jobs SET current_stage = $4, updated_at = wfq_now_ms() WHERE id = $1 AND lease_owner = $2 "
                "AND attempt = $3 AND state = 'running' RETURNING id",
                {job.id, job.lease_owner, std::int64_t(job.attempt), stage})
                .empty();
}

bool SqlStore::add_checkpoint(const JobRef& job, const Checkpoint& c) {
    return transact([&] {
        auto rows = m_db->exec(
            "INSERT INTO checkpoints (job_id, seq, stage, kind, gzipped, raw_bytes, stored_bytes, data, summary, created_at) "
            "SELECT id, $4, $5, $6, $7, $8, $9, $10, $11, wfq_now_ms() FROM jobs WHERE id = $1 AND lease_owner = $2 "
            "AND attempt = $3 AND state = 'running' RETURNING seq",
            {job.id, job.lease_owner, std::int64_t(job.attempt), std::int64_t(c.seq), c.stage, c.kind,
             std::int64_t(c.gzipped ? 1 : 0), std::int64_t(c.raw_bytes), std::int64_t(c.stored_bytes), Blob{c.blob},
             c.summary});
        if (rows.empty()) return false;
        // The context a signal resumed the job with is in this checkpoint now.
        m_db->exec("UPDATE jobs SET signal_data = NULL WHERE id = $1 AND signal_data IS NOT NULL", {job.id});
        return true;
    });
}

std::vector<Checkpoint> SqlStore::load_checkpoints(std::int64_t job_id) {
    std::vector<Checkpoint> out;
    for (const auto& r :
         run(std::string("SELECT ") + kCheckpointColumns + " FROM checkpoints WHERE job_id = $1 ORDER BY seq", {job_id}))
        out.push_back(checkpoint_from_row(r));
    return out;
}

std::vector<std::int64_t> SqlStore::signal(const std::string& event, const std::string& key, const std::string& data,
                                           std::int64_t keep_ms) {
    return transact("signal", [&] {
        m_db->lock_name_for_transaction("signal:" + event + "\x1f" + key);
        std::string payload = "{\"event\":" + json_quote(event) + ",\"data\":" + data + "}";
        // Resuming is not a retry: the attempt the wait interrupted is given back.
        auto rows = m_db->exec(
            "UPDATE jobs SET state = 'pending', run_at = wfq_now_ms(), turn_lag = 0, attempt = attempt - 1, signal_data = $3, "
            "wait_spec = NULL, wait_event = NULL, wait_key = NULL, wait_deadline = NULL, updated_at = wfq_now_ms() "
            "WHERE state = 'waiting' AND wait_event = $1 AND wait_key = $2 RETURNING id, attempt",
            {event, key, payload});
        std::vector<std::int64_t> ids;
        for (const auto& r : rows) {
            ids.push_back(r.i64(0));
            add_event(r.i64(0), "signalled", "pending", static_cast<int>(r.i64(1)), std::nullopt, "signal '" + event + "' arrived");
        }
        if (ids.empty())
            m_db->exec("INSERT INTO signals (event, key, data, created_at, expires_at) VALUES ($1, $2, $3, wfq_now_ms(), "
                       "CASE WHEN $4 > 0 THEN wfq_now_ms() + $4 END)",
                       {event, key, data, keep_ms});
        else
            m_db->notify_enqueued("*");
        return ids;
    });
}

std::vector<StoredSignal> SqlStore::stored_signals() {
    std::vector<StoredSignal> out;
    for (const auto& r : run(std::string("SELECT ") + kStoredSignalColumns +
                                 " FROM signals WHERE consumed_by IS NULL "
                                 "AND (expires_at IS NULL OR expires_at > wfq_now_ms()) ORDER BY id",
                             {}))
        out.push_back(stored_signal_from_row(r));
    return out;
}

std::int64_t SqlStore::clear_signals(const std::string& event, const std::optional<std::string>& key) {
    return transact([&] {
        auto rows = key ? m_db->exec("DELETE FROM signals WHERE consumed_by IS NULL AND event = $1 AND key = $2 RETURNING id",
                                     {event, *key})
                        : m_db->exec("DELETE FROM signals WHERE consumed_by IS NULL AND event = $1 RETURNING id", {event});
        return static_cast<std::int64_t>(rows.size());
    });
}

// Parks a running job for (event, key); a signal already stored resumes it at once instead.
OutcomeStatus SqlStore::park(const Outcome& o) {
    const JobRef& job = o.job;
    m_db->lock_name_for_transaction("signal:" + o.wait_event + "\x1f" + o.wait_key);
    auto stored = m_db->exec("SELECT id, data FROM signals WHERE event = $1 AND key = $2 AND consumed_by IS NULL "
                             "AND (expires_at IS NULL OR expires_at > wfq_now_ms()) ORDER BY id LIMIT 1",
                             {o.wait_event, o.wait_key});
    if (!stored.empty()) {
        std::string payload = "{\"event\":" + json_quote(o.wait_event) + ",\"data\":" + stored[0].str(1) + "}";
        auto rows = m_db->exec(
            "UPDATE jobs SET state = 'pending', run_at = wfq_now_ms(), turn_lag = 0, attempt = attempt - 1, signal_data = $4, "
            "wait_spec = NULL, lease_expires_at = NULL, spans = COALESCE(spans, '') || $5, updated_at = wfq_now_ms() "
            "WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running' RETURNING id",
            {job.id, job.lease_owner, std::int64_t(job.attempt), payload, spans_line(o)});
        if (rows.empty()) return OutcomeStatus::lost;
        m_db->exec("UPDATE signals SET consumed_by = $2 WHERE id = $1", {stored[0].i64(0), job.id});
        add_event(job.id, "signalled", "pending", job.attempt - 1, job.lease_owner,
                  "consumed a stored signal '" + o.wait_event + "'");
        m_db->notify_enqueued("*");
        return OutcomeStatus::resumed;
    }
    auto rows = m_db->exec(
        "UPDATE jobs SET state = 'waiting', wait_event = $4, wait_key = $5, wait_deadline = wfq_now_ms() + $6, "
        "wait_spec = $7, max_attempts = $8, lease_expires_at = NULL, spans = COALESCE(spans, '') || $9, "
        "updated_at = wfq_now_ms() WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running' RETURNING id",
        {job.id, job.lease_owner, std::int64_t(job.attempt), o.wait_event, o.wait_key, o.wait_timeout_ms, o.wait_spec,
         std::int64_t(o.max_attempts), spans_line(o)});
    if (rows.empty()) return OutcomeStatus::lost;
    add_event(job.id, "waiting", "waiting", job.attempt, job.lease_owner,
              "waiting for '" + o.wait_event + "' key '" + o.wait_key + "'");
    return OutcomeStatus::recorded;
}

}  // namespace wfq::store
