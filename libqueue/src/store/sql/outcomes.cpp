// Outcomes: the completer's flush, every attempt's outcome in one transaction (one statement
// for all but parked ones, which pipelines.cpp parks), optionally with the next claim.
#include "sql_store.h"

#include "sql_text.h"

#include <wfq/json_check.h>
#include <wfq/limits.h>
#include <wfq/text.h>

#include <nlohmann/json.hpp>

#include <unordered_map>

namespace wfq::store {
namespace {

// record_in_transaction, one outcome per statement (Db::statement_per_row): its statement over
// a JSON array, for one row given as parameters ($1 id, $2 lease owner, $3 attempt,
// $4 state, $5 unspend, $6 snooze, $7 delay_ms, $8 result, $9 error_class, $10 error, $11 spans,
// $12 release).
constexpr const char* kRecordOneOutcome =
    "UPDATE jobs SET state = $4, attempt = attempt - $5, snoozes = snoozes + $6, releases = releases + $12, prefetched = 0, "
    "run_at = CASE WHEN $4 = 'pending' THEN wfq_now_ms() + $7 ELSE run_at END, turn_lag = 0, "
    "result = CASE WHEN $4 = 'completed' THEN $8 ELSE result END, "
    "error_class = COALESCE($9, error_class), last_error = COALESCE($10, last_error), lease_expires_at = NULL, "
    "finished_at = CASE WHEN $4 IN ('completed', 'failed') THEN wfq_now_ms() ELSE NULL END, "
    "spans = CASE WHEN $11 IS NULL THEN spans WHEN spans IS NULL THEN $11 ELSE spans || $11 END, "
    "updated_at = wfq_now_ms() WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running' "
    "RETURNING id, started_at";

// What an outcome writes in its job's row, shared by the two forms of the flush.
const char* outcome_state(const Outcome& o) {
    using K = Outcome::Kind;
    return o.kind == K::completed ? "completed" : o.kind == K::failed ? "failed" : "pending";
}

// Snoozes, deferrals and releases give the attempt back.
bool outcome_unspends(const Outcome& o) {
    using K = Outcome::Kind;
    return o.kind == K::snoozed || o.kind == K::deferred || o.kind == K::released;
}

// A job handed back while its handler ran counts toward --max-releases.
bool outcome_counts_release(const Outcome& o) { return o.kind == Outcome::Kind::released && o.handler_ran; }

// Only failures write error_class and last_error.
bool outcome_failed(const Outcome& o) { return o.kind == Outcome::Kind::retry || o.kind == Outcome::Kind::failed; }

// One outcome as a row of the JSON array record_in_transaction sends, written by hand: this
// is the completer's hot path (nlohmann's dump cost more than the statement on SQLite).
void append_outcome_row(std::string& out, const Outcome& o) {
    out += "{\"id\":";
    out += std::to_string(o.job.id);
    out += ",\"owner\":";
    append_json_string(out, o.job.lease_owner);
    out += ",\"attempt\":";
    out += std::to_string(o.job.attempt);
    out += ",\"state\":\"";
    out += outcome_state(o);
    out += "\",\"unspend\":";
    out += outcome_unspends(o) ? '1' : '0';
    out += ",\"snooze\":";
    out += o.kind == Outcome::Kind::snoozed ? '1' : '0';
    out += ",\"delay_ms\":";
    out += std::to_string(o.delay_ms);
    out += ",\"result\":";
    if (o.result) append_json_string(out, *o.result);
    else out += "null";
    // Failure texts may hold a handler's stderr, not always UTF-8 and possibly with NUL:
    // cleaned as in outcome_params, so that both forms store the same text (and jsonb,
    // which refuses \u0000, takes it).
    const bool failure = outcome_failed(o);
    auto text = [&](const std::string& v) {
        if (failure) append_json_string(out, to_valid_utf8(v));
        else out += "null";
    };
    out += ",\"error_class\":";
    text(o.error_class);
    out += ",\"error\":";
    text(o.message);
    // An attempt's spans are one line of the job's spans column.
    out += ",\"spans\":";
    if (o.spans.empty()) {
        out += "null";
    } else {
        append_json_string(out, o.spans);
        out.insert(out.size() - 1, "\\n");
    }
    out += ",\"release\":";
    out += outcome_counts_release(o) ? '1' : '0';
    out += '}';
}

// The same row as the parameters of kRecordOneOutcome.
Params outcome_params(const Outcome& o) {
    const bool failure = outcome_failed(o);
    return {o.job.id,
            o.job.lease_owner,
            std::int64_t(o.job.attempt),
            std::string(outcome_state(o)),
            std::int64_t(outcome_unspends(o) ? 1 : 0),
            std::int64_t(o.kind == Outcome::Kind::snoozed ? 1 : 0),
            o.delay_ms,
            opt(o.result),
            failure ? Param(to_valid_utf8(o.error_class)) : Param(nullptr),
            failure ? Param(to_valid_utf8(o.message)) : Param(nullptr),
            o.spans.empty() ? Param(nullptr) : Param(o.spans + "\n"),
            std::int64_t(outcome_counts_release(o) ? 1 : 0)};
}

nlohmann::json outcome_event(const Outcome& o, std::optional<std::int64_t> started_at) {
    using K = Outcome::Kind;
    nlohmann::json data = nlohmann::json::object();
    if (started_at) data["started_at"] = *started_at;  // the attempt's claim, shown in the timeline
    std::string kind, state = "pending";
    int attempt = o.job.attempt;
    if (o.exit_code) data["exit_code"] = *o.exit_code;
    if (!o.ended_by.empty()) data["ended_by"] = o.ended_by;
    if (o.kind == K::failed) data["permanent"] = o.permanent;
    switch (o.kind) {
        case K::retry:
            kind = "retry_scheduled";
            data["error_class"] = to_valid_utf8(o.error_class);
            data["retry_in_ms"] = o.delay_ms;
            break;
        case K::failed:
            kind = "failed";
            state = "failed";
            data["error_class"] = to_valid_utf8(o.error_class);
            break;
        case K::snoozed:
            kind = "snoozed";
            data["snooze_ms"] = o.delay_ms;
            attempt -= 1;
            break;
        case K::deferred:
            kind = "deferred";
            attempt -= 1;
            break;
        default:
            kind = "released";
            attempt -= 1;
            break;
    }
    return {{"id", o.job.id}, {"kind", kind}, {"state", state}, {"attempt", attempt}, {"worker", o.job.lease_owner},
            {"message", o.message.empty() ? nlohmann::json() : nlohmann::json(to_valid_utf8(o.message))}, {"data", data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)}};
}

}  // namespace

std::vector<OutcomeStatus> SqlStore::record_outcomes(const std::vector<Outcome>& outcomes) {
    if (outcomes.empty()) return {};
    return transact("complete", [&] { return record_in_transaction(outcomes); });
}

std::vector<OutcomeStatus> SqlStore::record_outcomes_and_claim(const std::vector<Outcome>& outcomes, const ClaimRequest& claim,
                                                               std::vector<Job>& claimed) {
    return transact("complete", [&] {
        auto status = record_in_transaction(outcomes);
        claimed = claim.limit > 0 ? claim_once(claim) : std::vector<Job>{};
        return status;
    });
}

std::vector<OutcomeStatus> SqlStore::record_in_transaction(const std::vector<Outcome>& outcomes) {
    if (outcomes.empty()) return {};
    // A job given back to hold new limit keys (its workflow's `limits`) takes them first, so that
    // becoming pending below holds it for admission (the flow-control triggers of 010).
    for (const Outcome& o : outcomes)
        if (o.kind == Outcome::Kind::deferred && !o.limit_keys.empty())
            m_db->exec(std::string("UPDATE jobs SET limit_keys = $1 WHERE id = $2 AND lease_owner = $3 AND attempt = $4 AND ") +
                           kStillRunning,
                       {limit_keys_to_json(o.limit_keys), o.job.id, o.job.lease_owner, std::int64_t(o.job.attempt)});
    {
        std::vector<OutcomeStatus> status(outcomes.size(), OutcomeStatus::lost);
        std::vector<std::size_t> parked;
        std::unordered_map<std::int64_t, std::optional<std::int64_t>> started;  // id -> started_at
        // One statement per row where that is cheaper (Db::statement_per_row), else one
        // statement over all of them as a JSON array.
        const bool per_row = m_db->statement_per_row();
        std::string rows = "[";
        for (std::size_t i : in_id_order(outcomes, [](const Outcome& o) { return o.job.id; })) {
            const Outcome& o = outcomes[i];
            if (o.kind == Outcome::Kind::parked) {
                parked.push_back(i);
            } else if (per_row) {
                for (const auto& r : m_db->exec(kRecordOneOutcome, outcome_params(o))) started[r.i64(0)] = r.opt_i64(1);
            } else {
                if (rows.size() > 1) rows += ',';
                append_outcome_row(rows, o);
            }
        }
        rows += ']';
        if (rows.size() > 2) {
            // Each job is found by its id (json_ids_match, kStillRunning).
            auto done = m_db->exec(
                "UPDATE jobs SET state = u.state, attempt = jobs.attempt - u.unspend, snoozes = jobs.snoozes + u.snooze, "
                "releases = jobs.releases + u.release, prefetched = 0, "
                "run_at = CASE WHEN u.state = 'pending' THEN wfq_now_ms() + u.delay_ms ELSE jobs.run_at END, turn_lag = 0, "
                "result = CASE WHEN u.state = 'completed' THEN u.result ELSE jobs.result END, "
                "error_class = CASE WHEN u.error_class IS NULL THEN jobs.error_class ELSE u.error_class END, "
                "last_error = CASE WHEN u.error IS NULL THEN jobs.last_error ELSE u.error END, "
                "lease_expires_at = NULL, "
                "finished_at = CASE WHEN u.state IN ('completed', 'failed') THEN wfq_now_ms() ELSE NULL END, "
                "spans = CASE WHEN u.spans IS NULL THEN jobs.spans WHEN jobs.spans IS NULL THEN u.spans "
                "ELSE jobs.spans || u.spans END, updated_at = wfq_now_ms() FROM " +
                    m_db->json_rows("$1", {{"id", "bigint"}, {"owner", "text"}, {"attempt", "integer"}, {"state", "text"},
                                           {"unspend", "integer"}, {"snooze", "integer"}, {"delay_ms", "bigint"},
                                           {"result", "text"}, {"error_class", "text"}, {"error", "text"},
                                           {"spans", "text"}, {"release", "integer"}}) +
                    " WHERE jobs.id = u.id AND " + m_db->json_ids_match("jobs.id", "$1") +
                    " AND jobs.lease_owner = u.owner AND jobs.attempt = u.attempt AND " + kStillRunning +
                    " RETURNING jobs.id, jobs.started_at",
                {rows});
            for (const auto& r : done) started[r.i64(0)] = r.opt_i64(1);
        }
        // The happy path writes no event row: `jobs show` derives enqueued, claimed and
        // completed from the job row. Every other outcome is an event.
        nlohmann::json events = nlohmann::json::array();
        for (std::size_t i = 0; i < outcomes.size(); ++i) {
            const Outcome& o = outcomes[i];
            if (o.kind == Outcome::Kind::parked) continue;
            auto it = started.find(o.job.id);
            if (it == started.end()) continue;
            status[i] = OutcomeStatus::recorded;
            if (o.kind == Outcome::Kind::completed) continue;
            events.push_back(outcome_event(o, it->second));
        }
        if (!events.empty()) insert_events(events);
        for (std::size_t i : parked) status[i] = park(outcomes[i]);
        insert_attempt_logs(outcomes, status);
        return status;
    }
}

}  // namespace wfq::store
