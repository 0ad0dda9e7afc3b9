// Rescue: expired leases and dead workers' jobs back to pending (or failed), waits past their
// deadline, expired signals and long-silent workers.
#include "sql_store.h"

#include <wfq/fencing.h>

#include <nlohmann/json.hpp>

namespace wfq::store {

RescueReport SqlStore::rescue(std::int64_t dead_after_ms) {
    return transact("rescue", [&] {
        RescueReport report;
        // The statement that moves a job re-checks that its lease expired or its worker died,
        // so a renewal or a finish landing meanwhile keeps it where it is. It waits M
        // (kFenceStopAfterExpiryMs) past the expiry: by then the holder has stopped its handler
        // by its own clock, so the two runs never overlap. The job keeps its run_at: it goes
        // back to its place in line, ahead of the jobs enqueued after it.
        auto rows = m_db->exec(
            "UPDATE jobs SET state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END, "
            "finished_at = CASE WHEN attempt >= max_attempts THEN wfq_now_ms() ELSE NULL END, "
            "lease_expires_at = NULL, error_class = 'lease_expired', "
            "last_error = CASE WHEN lease_expires_at < wfq_now_ms() - $2 THEN 'lease expired (worker ' || lease_owner || ')' "
            "ELSE 'worker ' || lease_owner || ' stopped heartbeating' END, updated_at = wfq_now_ms() "
            "WHERE state = 'running' AND (lease_expires_at < wfq_now_ms() - $2 OR lease_owner IN "
            "(SELECT id FROM workers WHERE last_heartbeat < wfq_now_ms() - $1 - $2)) "
            "RETURNING id, state, attempt, lease_owner, last_error, started_at",
            {dead_after_ms, kFenceStopAfterExpiryMs});
        nlohmann::json events = nlohmann::json::array();
        for (const auto& r : rows) {
            bool failed = r.str(1) == "failed";
            nlohmann::json data{{"error_class", "lease_expired"}};
            if (!r.is_null(5)) data["started_at"] = r.i64(5);
            events.push_back({{"id", r.i64(0)}, {"kind", "rescued"}, {"state", r.str(1)}, {"attempt", r.i64(2)},
                              {"worker", r.str(3)}, {"message", r.str(4)}, {"data", data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)}});
            (failed ? report.failed : report.requeued).push_back(r.i64(0));
        }
        if (!events.empty()) insert_events(events);
        // Waits whose deadline passed: retried (the pipeline waits again) or failed, per attempts.
        for (const auto& r : m_db->exec("SELECT id, attempt, max_attempts, wait_event FROM jobs WHERE state = 'waiting' "
                                        "AND wait_deadline < wfq_now_ms()",
                                        {})) {
            std::int64_t id = r.i64(0);
            bool exhausted = r.i64(1) >= r.i64(2);
            std::string why = "no signal '" + r.str(3) + "' before the deadline";
            auto done = m_db->exec(std::string("UPDATE jobs SET state = ") +
                                       (exhausted ? "'failed', finished_at = wfq_now_ms()" : "'pending', run_at = wfq_now_ms(), turn_lag = 0") +
                                       ", error_class = 'wait_timeout', last_error = $2, wait_event = NULL, wait_key = NULL, "
                                       "wait_deadline = NULL, updated_at = wfq_now_ms() WHERE id = $1 AND state = 'waiting' RETURNING id",
                                   {id, why});
            if (done.empty()) continue;
            add_event(id, "wait_timeout", exhausted ? "failed" : "pending", static_cast<int>(r.i64(1)), std::nullopt, why);
            (exhausted ? report.failed : report.requeued).push_back(id);
        }
        // Stored signals past their --keep, and consumed ones a day old.
        m_db->exec("DELETE FROM signals WHERE (consumed_by IS NULL AND expires_at < wfq_now_ms()) OR "
                   "(consumed_by IS NOT NULL AND created_at < wfq_now_ms() - 86400000)",
                   {});
        // Group turns whose last due job was enqueued an hour ago: their tail is long behind
        // any round (a job of the group joins where the round is), so nothing depends on them.
        m_db->exec("DELETE FROM job_group_turns WHERE tail IS NULL OR tail < (wfq_now_ms() - 3600000) * 1000000", {});
        // Forget workers that have been silent for a day.
        m_db->exec("DELETE FROM workers WHERE last_heartbeat < wfq_now_ms() - 86400000", {});
        return report;
    });
}

}  // namespace wfq::store
