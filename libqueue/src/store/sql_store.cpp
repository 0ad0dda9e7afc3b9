// The queue's SQL, shared by both backends through the Db interface. Times are epoch
// milliseconds from wfq_now_ms(): the server's clock on PostgreSQL, the injected clock on SQLite.
#include "db.h"

#include <wfq/clock.h>
#include <wfq/json_check.h>
#include <wfq/text.h>
#include <wfq/retry.h>
#include <wfq/trace.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>

namespace wfq::store {
namespace {

// The predicate of the partial index jobs_finished, word for word. Queries on finished jobs
// carry it as a term of their own: SQLite uses a partial index only when the query's WHERE
// contains its predicate (it does not reason that state = 'failed' implies it); PostgreSQL
// sees that the index implies it and ignores it.
#define FINISHED_STATES_TERM "state IN ('completed', 'failed', 'cancelled')"

const char* kJobColumns =
    "id, type, queue, payload, priority, run_at, state, attempt, max_attempts, key, lock_key, org, repo, "
    "correlation_id, traceparent, tracestate, lease_owner, lease_expires_at, current_stage, last_error, "
    "error_class, result, wait_event, wait_key, wait_deadline, created_at, updated_at, started_at, finished_at, "
    "wait_spec, signal_data, snoozes, releases, prefetched";

const char* kActiveStates = "('pending', 'running', 'waiting')";

// "Still running", for statements that find their jobs by id: the state is compared with a
// subquery, not a literal, so PostgreSQL cannot answer it from the partial index of running
// jobs. It did, with a bitmap scan, and a bitmap scan never marks dead index entries: every
// flush read every job finished since the last vacuum (500 outcomes: 9.9 ms with 20,000
// finished jobs, 5.1 ms by id).
constexpr const char* kStillRunning = "jobs.state = (SELECT 'running')";
// record_in_transaction, one outcome per statement (Db::statement_per_row): its statement over
// a JSON array, for one row given as parameters ($1 id, $2 lease owner, $3 attempt,
// $4 state, $5 unspend, $6 snooze, $7 delay_ms, $8 result, $9 error_class, $10 error, $11 spans,
// $12 release).
constexpr const char* kRecordOneOutcome =
    "UPDATE jobs SET state = $4, attempt = attempt - $5, snoozes = snoozes + $6, releases = releases + $12, prefetched = 0, "
    "run_at = CASE WHEN $4 = 'pending' THEN wfq_now_ms() + $7 ELSE run_at END, "
    "result = CASE WHEN $4 = 'completed' THEN $8 ELSE result END, "
    "error_class = COALESCE($9, error_class), last_error = COALESCE($10, last_error), lease_expires_at = NULL, "
    "finished_at = CASE WHEN $4 IN ('completed', 'failed') THEN wfq_now_ms() ELSE NULL END, "
    "spans = CASE WHEN $11 IS NULL THEN spans WHEN spans IS NULL THEN $11 ELSE spans || $11 END, "
    "updated_at = wfq_now_ms() WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running' "
    "RETURNING id, started_at";

// Reads a job's columns (kJobColumns), moving the strings out of the spent row.
Job job_from_row(Row&& r) {
    Job j;
    j.id = r.i64(0);
    j.type = r.take_str(1);
    j.queue = r.take_str(2);
    j.payload = r.take_str(3);
    j.priority = static_cast<int>(r.i64(4));
    j.run_at = r.i64(5);
    j.state = parse_job_state(r.str(6)).value_or(JobState::pending);
    j.attempt = static_cast<int>(r.i64(7));
    j.max_attempts = static_cast<int>(r.i64(8));
    j.key = r.take_opt_str(9);
    j.lock_key = r.take_opt_str(10);
    j.org = r.take_opt_str(11);
    j.repo = r.take_opt_str(12);
    j.correlation_id = r.take_str(13);
    j.traceparent = r.take_opt_str(14);
    j.tracestate = r.take_opt_str(15);
    j.lease_owner = r.take_opt_str(16);
    j.lease_expires_at = r.opt_i64(17);
    j.current_stage = r.take_opt_str(18);
    j.last_error = r.take_opt_str(19);
    j.error_class = r.take_opt_str(20);
    j.result = r.take_opt_str(21);
    j.wait_event = r.take_opt_str(22);
    j.wait_key = r.take_opt_str(23);
    j.wait_deadline = r.opt_i64(24);
    j.created_at = r.i64(25);
    j.updated_at = r.i64(26);
    j.started_at = r.opt_i64(27);
    j.finished_at = r.opt_i64(28);
    j.wait_spec = r.take_opt_str(29);
    j.signal_data = r.take_opt_str(30);
    j.snoozes = static_cast<int>(r.i64(31));
    j.releases = static_cast<int>(r.i64(32));
    j.prefetched = r.i64(33) != 0;
    j.last_worker = j.lease_owner;
    if (j.state != JobState::running) j.lease_owner.reset();  // kept in the row as the last worker
    return j;
}

Job job_from_row(const Row& r) { return job_from_row(Row(r)); }

// "$k, $k+1, ..." for n values starting at parameter number first.
std::string placeholders(std::size_t first, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        if (i) s += ", ";
        s += "$" + std::to_string(first + i);
    }
    return s;
}

// The queues a worker serves, each once, in the order given (`--queue a --queue a`).
std::vector<std::string> distinct_queues(const std::vector<std::string>& queues) {
    std::vector<std::string> out;
    for (const auto& q : queues)
        if (std::find(out.begin(), out.end(), q) == out.end()) out.push_back(q);
    return out;
}

// Paused queues wait. For one named queue (placeholder q) the pause is checked once, before its
// jobs are read: the condition names no column of the row, so the planner keeps its estimate
// and a paused queue's backlog is not walked. Across every queue (column), NOT IN over the
// small pause table: one hashed lookup per row. (As a NOT EXISTS anti-join correlated with
// the row, it was estimated at one row, so LIMIT discounted nothing and, once the table was
// analyzed, a claim sorted the whole backlog: 190 ms at 200,000 pending jobs.)
std::string queue_not_paused(const std::string& q) {
    return "NOT EXISTS (SELECT 1 FROM queue_pauses qp WHERE qp.queue = " + q + ")";
}
std::string no_paused_queue(const std::string& column) {
    return column + " NOT IN (SELECT qp.queue FROM queue_pauses qp)";
}

// Appends "AND column IN ($..)" for a non-empty list.
void add_in(std::string& sql, Params& params, const std::string& column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    sql += " AND " + column + " IN (" + placeholders(params.size() + 1, values.size()) + ")";
    for (const auto& v : values) params.emplace_back(v);
}

std::string join_csv(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

std::vector<std::string> split_csv(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size() && !s.empty()) {
        auto comma = s.find(',', start);
        out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

constexpr std::size_t kEnqueueColumns = 15;
constexpr std::size_t kEnqueueRowsPerStatement = 500;
constexpr std::size_t kCopyAtLeast = 32;
// SQLite compiles ?NNN parameters in time quadratic in their number: a statement of 64 rows
// (960 parameters) prepares in a blink and still saves most per-statement work.
constexpr std::size_t kSqliteRowsPerStatement = 64;

class SqlStore final : public Store {
public:
    SqlStore(std::unique_ptr<Db> db, bool check) : m_db(std::move(db)) {
        // The embedded default migrates itself; a read first, so that opening an up-to-date
        // database takes no write lock.
        if (m_db->backend() == "sqlite" && !schema_current()) migrate();
        else if (check) check_schema();
    }

    std::string backend() const override { return m_db->backend(); }
    std::string describe() const override { return m_db->describe(); }

    std::unique_ptr<Store> open_sibling() override {
        auto db = retry([&] { return m_db->open_sibling(); }, default_db_retry_policy());
        if (!db) return nullptr;
        return std::make_unique<SqlStore>(std::move(db), false);
    }
    void set_in_doubt_wait_ms(std::int64_t ms) override { m_db->set_in_doubt_wait_ms(ms); }

    // ---- schema -------------------------------------------------------------------------
    std::vector<MigrationInfo> migrate() override {
        return transact([&] {
            m_db->lock_for_migration();
            m_db->exec_script(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at bigint NOT NULL)");
            std::set<int> applied;
            for (const auto& r : m_db->exec("SELECT version FROM schema_migrations", {}))
                applied.insert(static_cast<int>(r.i64(0)));
            std::vector<MigrationInfo> done;
            for (const auto& m : m_db->migrations()) {
                if (applied.count(m.version)) continue;
                m_db->exec_script(m.sql);
                TimeMs now = SystemClock::instance().now_ms();
                m_db->exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                           {std::int64_t(m.version), std::string(m.name), now});
                done.push_back({m.version, m.name, now});
            }
            return done;
        });
    }

    std::vector<MigrationInfo> migration_status() override {
        std::unordered_map<int, TimeMs> applied;
        try {
            for (const auto& r : run("SELECT version, applied_at FROM schema_migrations", {}))
                applied[static_cast<int>(r.i64(0))] = r.i64(1);
        } catch (const std::exception& e) {
            if (!m_db->is_missing_table(e)) throw;
        }
        std::vector<MigrationInfo> out;
        for (const auto& m : m_db->migrations()) {
            MigrationInfo info{m.version, m.name, std::nullopt};
            if (auto it = applied.find(m.version); it != applied.end()) info.applied_at = it->second;
            out.push_back(info);
        }
        return out;
    }

    bool schema_current() {
        try {
            auto rows = run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
            return rows.at(0).i64(0) >= m_db->migrations().back().version;
        } catch (const std::exception&) {
            return false;  // no schema_migrations yet
        }
    }

    void check_schema() override {
        int latest = m_db->migrations().back().version;
        std::int64_t have = 0;
        try {
            auto rows = run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
            have = rows.at(0).i64(0);
        } catch (const std::exception& e) {
            if (!m_db->is_missing_table(e)) throw;
        }
        if (have < latest)
            throw Error(ErrorCode::config, "the database schema is " + (have ? "at version " + std::to_string(have) : std::string("missing")) +
                                               ", this wfq needs version " + std::to_string(latest) +
                                               "; run `wfq migrate` (with the same --db and --schema)");
    }

    TimeMs db_now() override { return run("SELECT wfq_now_ms()", {}).at(0).i64(0); }

    // ---- producing ----------------------------------------------------------------------
    EnqueueResult enqueue(const NewJob& job) override { return enqueue_batch({job}).at(0); }

    std::vector<EnqueueResult> enqueue_batch(const std::vector<NewJob>& jobs, const EnqueueHook& hook = {}) override {
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
            if (jobs.size() >= kCopyAtLeast && !keyed && m_db->backend() == "postgresql") {
                copy_rows(jobs, results, phase);
            } else {
                phase(EnqueuePhase::ids);  // the ids come with the inserts
                // Multi-row statements: fewer round trips on PostgreSQL, less per-statement work on SQLite.
                const std::size_t per_statement = m_db->backend() == "sqlite" ? kSqliteRowsPerStatement : kEnqueueRowsPerStatement;
                for (std::size_t start = 0; start < jobs.size(); start += per_statement) {
                    std::size_t end = std::min(jobs.size(), start + per_statement);
                    insert_rows(jobs, start, end, results);
                }
                phase(EnqueuePhase::ids_taken);
            }
            for (const auto& j : jobs) queues.insert(j.queue);
            for (const auto& q : queues) m_db->notify_enqueued(q);
            phase(EnqueuePhase::commit);
            return results;
        });
    }

    // ---- consuming ----------------------------------------------------------------------
    std::vector<Job> claim_batch(const ClaimRequest& req) override {
        // On PostgreSQL two claimers can race for the same lock key; the unique index on
        // running lock keys rejects the second, which then simply claims again.
        for (int tries = 0;; ++tries) {
            try {
                std::lock_guard<std::recursive_mutex> lock(m_mutex);
                return retry([&] { return claim_once(req); }, default_db_retry_policy());
            } catch (const UniqueViolation&) {
                if (tries >= 5) return {};
            }
        }
    }

    std::vector<Job> running_jobs_of(const std::string& worker_id) override {
        std::vector<Job> jobs;
        for (const auto& r : run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE state = 'running' AND lease_owner = $1",
                                 {worker_id}))
            jobs.push_back(job_from_row(r));
        return jobs;
    }

    std::optional<TimeMs> next_due(const std::vector<std::string>& queues, const std::vector<std::string>& types) override {
        if (queues.empty()) {
            std::string sql = "SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND " + no_paused_queue("queue");
            Params params;
            add_in(sql, params, "type", types);
            return run(sql, params).at(0).opt_i64(0);
        }
        // An idle worker asks this at every poll. The claim index orders a queue's pending jobs
        // by priority, then due time: MIN(run_at) over the queue read every one of them (100,000
        // jobs backing off cost an idle worker's database 3.5% of a core). Instead, for each
        // priority present (found from the index, one step each), its first due time.
        std::optional<TimeMs> first;
        for (const auto& queue : distinct_queues(queues)) {
            Params params{queue};
            std::string of_type;
            add_in(of_type, params, "d.type", types);
            auto row = run("WITH RECURSIVE pr(p) AS (SELECT (SELECT c.priority FROM jobs c WHERE c.state = 'pending' AND "
                           "c.queue = $1 ORDER BY c.priority DESC LIMIT 1) UNION ALL SELECT (SELECT c.priority FROM jobs c "
                           "WHERE c.state = 'pending' AND c.queue = $1 AND c.priority < pr.p ORDER BY c.priority DESC LIMIT 1) "
                           "FROM pr WHERE pr.p IS NOT NULL) "
                           "SELECT MIN((SELECT d.run_at FROM jobs d WHERE d.state = 'pending' AND d.queue = $1 AND "
                           "d.priority = pr.p" + of_type + " ORDER BY d.run_at LIMIT 1)) FROM pr WHERE pr.p IS NOT NULL AND " +
                               queue_not_paused("$1"),
                           params)
                           .at(0)
                           .opt_i64(0);
            if (row && (!first || *row < *first)) first = row;
        }
        return first;
    }

    std::vector<std::int64_t> renew_leases(const std::vector<JobRef>& jobs, std::int64_t lease_ms) override {
        if (jobs.empty()) return {};
        nlohmann::json refs = nlohmann::json::array();
        for (const auto& j : jobs) refs.push_back({{"id", j.id}, {"owner", j.lease_owner}, {"attempt", j.attempt}});
        auto rows = run("UPDATE jobs SET lease_expires_at = wfq_now_ms() + $2 FROM " +
                            m_db->json_rows("$1", {{"id", "bigint"}, {"owner", "text"}, {"attempt", "integer"}}) +
                            " WHERE jobs.id = u.id AND " + m_db->json_ids_match("jobs.id", "$1") +
                            " AND jobs.lease_owner = u.owner AND jobs.attempt = u.attempt AND " + kStillRunning +
                            " RETURNING jobs.id",
                        {refs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), lease_ms});
        std::set<std::int64_t> kept;
        for (const auto& r : rows) kept.insert(r.i64(0));
        std::vector<std::int64_t> lost;
        for (const auto& j : jobs)
            if (!kept.count(j.id)) lost.push_back(j.id);
        return lost;
    }

    void set_prefetched(const std::vector<JobRef>& jobs, bool prefetched) override {
        if (jobs.empty()) return;
        nlohmann::json refs = nlohmann::json::array();
        for (const auto& j : jobs) refs.push_back({{"id", j.id}, {"owner", j.lease_owner}, {"attempt", j.attempt}});
        run("UPDATE jobs SET prefetched = $2 FROM " + m_db->json_rows("$1", {{"id", "bigint"}, {"owner", "text"}, {"attempt", "integer"}}) +
                " WHERE jobs.id = u.id AND " + m_db->json_ids_match("jobs.id", "$1") +
                " AND jobs.lease_owner = u.owner AND jobs.attempt = u.attempt AND " + kStillRunning + " RETURNING jobs.id",
            {refs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), std::int64_t(prefetched ? 1 : 0)});
    }

    bool complete(const JobRef& job, const std::optional<std::string>& result,
                  const std::vector<std::string>& spans) override {
        Outcome o;
        o.job = job;
        o.kind = Outcome::Kind::completed;
        o.result = result;
        o.spans = pack_spans(spans);
        return record_outcomes({o}).at(0) == OutcomeStatus::recorded;
    }

    bool fail(const JobRef& job, const Failure& failure, const std::vector<std::string>& spans) override {
        Outcome o;
        o.job = job;
        o.kind = failure.retry_in_ms ? Outcome::Kind::retry : Outcome::Kind::failed;
        o.error_class = failure.error_class;
        o.message = failure.message;
        o.delay_ms = failure.retry_in_ms.value_or(0);
        o.spans = pack_spans(spans);
        return record_outcomes({o}).at(0) == OutcomeStatus::recorded;
    }

    bool release(const JobRef& job, const std::string& reason) override {
        Outcome o;
        o.job = job;
        o.kind = Outcome::Kind::released;
        o.message = reason;
        return record_outcomes({o}).at(0) == OutcomeStatus::recorded;
    }

    std::vector<OutcomeStatus> record_outcomes(const std::vector<Outcome>& outcomes) override {
        if (outcomes.empty()) return {};
        return transact("complete", [&] { return record_in_transaction(outcomes); });
    }

    std::vector<OutcomeStatus> record_outcomes_and_claim(const std::vector<Outcome>& outcomes, const ClaimRequest& claim,
                                                         std::vector<Job>& claimed) override {
        return transact("complete", [&] {
            auto status = record_in_transaction(outcomes);
            claimed = claim.limit > 0 ? claim_once(claim) : std::vector<Job>{};
            return status;
        });
    }

    std::vector<OutcomeStatus> record_in_transaction(const std::vector<Outcome>& outcomes) {
        if (outcomes.empty()) return {};
        {
            std::vector<OutcomeStatus> status(outcomes.size(), OutcomeStatus::lost);
            std::vector<std::size_t> parked;
            std::unordered_map<std::int64_t, std::optional<std::int64_t>> started;  // id -> started_at
            // One statement per row where that is cheaper (Db::statement_per_row), else one
            // statement over all of them as a JSON array.
            const bool per_row = m_db->statement_per_row();
            std::string rows = "[";
            for (std::size_t i = 0; i < outcomes.size(); ++i) {
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
                    "run_at = CASE WHEN u.state = 'pending' THEN wfq_now_ms() + u.delay_ms ELSE jobs.run_at END, "
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
            return status;
        }
    }

    RescueReport rescue(std::int64_t dead_after_ms) override {
        return transact("rescue", [&] {
            RescueReport report;
            // The statement that moves a job re-checks that its lease expired or its worker died,
            // so a renewal or a finish landing meanwhile keeps it where it is.
            auto rows = m_db->exec(
                "UPDATE jobs SET state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END, "
                "run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE wfq_now_ms() END, "
                "finished_at = CASE WHEN attempt >= max_attempts THEN wfq_now_ms() ELSE NULL END, "
                "lease_expires_at = NULL, error_class = 'lease_expired', "
                "last_error = CASE WHEN lease_expires_at < wfq_now_ms() THEN 'lease expired (worker ' || lease_owner || ')' "
                "ELSE 'worker ' || lease_owner || ' stopped heartbeating' END, updated_at = wfq_now_ms() "
                "WHERE state = 'running' AND (lease_expires_at < wfq_now_ms() OR lease_owner IN "
                "(SELECT id FROM workers WHERE last_heartbeat < wfq_now_ms() - $1)) "
                "RETURNING id, state, attempt, lease_owner, last_error, started_at",
                {dead_after_ms});
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
                                           (exhausted ? "'failed', finished_at = wfq_now_ms()" : "'pending', run_at = wfq_now_ms()") +
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
            // Forget workers that have been silent for a day.
            m_db->exec("DELETE FROM workers WHERE last_heartbeat < wfq_now_ms() - 86400000", {});
            return report;
        });
    }

    // ---- operating ----------------------------------------------------------------------
    std::vector<Job> list_jobs(const JobFilter& f) override {
        // The newest matching ids first (from an index alone where one holds the filtered
        // columns: a filter that matches few of many rows reads no row it rejects), then their rows.
        std::string sql = "SELECT id FROM jobs WHERE 1 = 1";
        Params params;
        std::vector<std::string> states;
        for (auto s : f.states) states.emplace_back(to_string(s));
        add_in(sql, params, "state", states);
        if (!f.states.empty() && std::all_of(f.states.begin(), f.states.end(), is_finished))
            sql += " AND " FINISHED_STATES_TERM;  // so that SQLite may use jobs_finished (see FINISHED_STATES_TERM)
        add_in(sql, params, "type", f.types);
        add_in(sql, params, "queue", f.queues);
        if (f.lock_key) {
            sql += " AND lock_key = $" + std::to_string(params.size() + 1);
            params.emplace_back(*f.lock_key);
        }
        add_scope_filters(sql, params, "", f.error_classes, f.orgs, f.repos, f.older_than_ms, f.newer_than_ms,
                          f.running_longer_than_ms);
        if (f.before_id) {  // keyset pagination: the page before the one that began at this id
            sql += " AND id < $" + std::to_string(params.size() + 1);
            params.emplace_back(*f.before_id);
        }
        if (f.scheduled_only) sql += " AND state = 'pending' AND run_at > wfq_now_ms()";
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
        sql += std::string(" ORDER BY id ") + order + " LIMIT $" + std::to_string(params.size() + 1);
        params.emplace_back(std::int64_t(f.limit));
        sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id IN (" + sql + ") ORDER BY id " + order;
        std::vector<Job> jobs;
        for (const auto& r : run(sql, params)) jobs.push_back(job_from_row(r));
        if (!f.after_id) std::reverse(jobs.begin(), jobs.end());
        return jobs;
    }

    std::optional<Job> get_job(std::int64_t id) override {
        auto rows = run(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1", {id});
        if (rows.empty()) return std::nullopt;
        return job_from_row(rows[0]);
    }

    // The timeline: stored events plus those the happy path does not store, derived from the job
    // row (enqueued at created_at, each attempt's claim from its started_at, completed at
    // finished_at).
    std::vector<JobEvent> job_events(std::int64_t id) override {
        std::vector<JobEvent> stored;
        for (const auto& r : run("SELECT id, job_id, at, kind, state, attempt, worker, message, data FROM job_events "
                                 "WHERE job_id = $1 AND kind <> 'span' ORDER BY id",
                                 {id})) {
            stored.push_back({r.i64(0), r.i64(1), r.i64(2), r.str(3), r.str(4), static_cast<int>(r.i64(5)), r.opt_str(6),
                              r.opt_str(7), r.opt_str(8)});
        }
        auto job = get_job(id);
        if (!job) return stored;
        auto has = [&](const std::string& kind) {
            return std::any_of(stored.begin(), stored.end(), [&](const JobEvent& e) { return e.kind == kind; });
        };
        std::vector<JobEvent> out;
        if (!has("enqueued")) out.push_back({0, id, job->created_at, "enqueued", "pending", 0, std::nullopt, std::nullopt, std::nullopt});
        std::set<std::int64_t> claims;  // started_at of attempts already shown
        for (const auto& e : stored) {
            if (e.kind == "claimed") claims.insert(e.at);
            if (!e.data || e.data->find("\"started_at\"") == std::string::npos) continue;
            auto data = nlohmann::json::parse(*e.data, nullptr, false);
            if (!data.is_object() || !data.contains("started_at") || !data["started_at"].is_number_integer()) continue;
            std::int64_t at = data["started_at"].get<std::int64_t>();
            if (claims.count(at)) continue;
            claims.insert(at);
            int attempt = e.kind == "snoozed" || e.kind == "deferred" || e.kind == "released" ? e.attempt + 1 : e.attempt;
            out.push_back({0, id, at, "claimed", "running", attempt, e.worker, std::nullopt, std::nullopt});
        }
        if (job->started_at && !claims.count(*job->started_at) && job->attempt > 0 &&
            (job->state == JobState::running || job->state == JobState::completed ||
             (job->state == JobState::failed && job->last_worker) || job->state == JobState::cancelled))
            out.push_back({0, id, *job->started_at, "claimed", "running", job->attempt, job->last_worker, std::nullopt,
                           std::nullopt});
        for (auto& e : stored) out.push_back(std::move(e));
        if (job->state == JobState::completed && !has("completed") && job->finished_at)
            out.push_back({0, id, *job->finished_at, "completed", "completed", job->attempt, job->last_worker, std::nullopt,
                           std::nullopt});
        // By time; at equal times derived claims and enqueues first, stored events in their order.
        std::stable_sort(out.begin(), out.end(), [](const JobEvent& a, const JobEvent& b) {
            auto rank = [](const JobEvent& e) { return e.kind == "enqueued" ? 0 : e.kind == "claimed" ? 1 : e.kind == "completed" ? 3 : 2; };
            if (a.at != b.at) return a.at < b.at;
            return rank(a) < rank(b);
        });
        return out;
    }

    AdminResult retry_job(std::int64_t id) override {
        try {
            return transact([&] {
                auto rows = m_db->exec(
                    "UPDATE jobs SET state = 'pending', attempt = 0, run_at = wfq_now_ms(), lease_owner = NULL, "
                    "lease_expires_at = NULL, finished_at = NULL, wait_event = NULL, wait_key = NULL, wait_deadline = NULL, "
                    "updated_at = wfq_now_ms() WHERE id = $1 AND state <> 'running' "
                    "RETURNING id",
                    {id});
                if (rows.empty()) return exists(id) ? AdminResult::wrong_state : AdminResult::not_found;
                add_event(id, "retried", "pending", 0, std::nullopt, "requeued by an operator");
                return AdminResult::done;
            });
        } catch (const UniqueViolation&) {
            return AdminResult::wrong_state;  // another active job holds its idempotency key
        }
    }

    AdminResult cancel_job(std::int64_t id) override {
        return transact([&] {
            auto rows = m_db->exec(
                "UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, "
                "finished_at = wfq_now_ms(), updated_at = wfq_now_ms() WHERE id = $1 AND state IN " +
                    std::string(kActiveStates) + " RETURNING attempt",
                {id});
            if (rows.empty()) return exists(id) ? AdminResult::wrong_state : AdminResult::not_found;
            add_event(id, "cancelled", "cancelled", static_cast<int>(rows[0].i64(0)), std::nullopt, "cancelled by an operator");
            return AdminResult::done;
        });
    }

    std::int64_t prune(std::int64_t older_than_ms, const std::vector<JobState>& states, int batch_size,
                       const std::function<void(std::int64_t)>& progress) override {
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

    std::int64_t prune_batch(std::int64_t older_than_ms, JobState state, int batch_size) {
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
            m_db->exec("DELETE FROM jobs WHERE id IN " + in, ids);
            return static_cast<std::int64_t>(rows.size());
        });
    }

    std::int64_t count_jobs(JobState state) override {
        return run(std::string("SELECT COUNT(*) FROM jobs WHERE state = $1") + (is_finished(state) ? " AND " FINISHED_STATES_TERM : ""),
                   {std::string(to_string(state))})
            .at(0)
            .i64(0);
    }

    QueueMetrics queue_metrics(std::int64_t dead_after_ms) override {
        std::lock_guard<std::recursive_mutex> lock(m_mutex);
        return retry(
            [&] {
                QueueMetrics m;
                count_jobs_by_state(m);
                auto row = m_db->exec(
                    "SELECT (SELECT wfq_now_ms() - MIN(run_at) FROM jobs WHERE state = 'pending' AND run_at <= wfq_now_ms()), "
                    "(SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_expires_at < wfq_now_ms()), "
                    "(SELECT COUNT(*) FROM jobs WHERE state = 'waiting'), "
                    "(SELECT COUNT(*) FROM jobs WHERE state = 'waiting' AND wait_deadline < wfq_now_ms()), "
                    "(SELECT COUNT(*) FROM workers WHERE last_heartbeat >= wfq_now_ms() - $1), "
                    "(SELECT COUNT(*) FROM workers WHERE last_heartbeat < wfq_now_ms() - $1), "
                    "(SELECT COUNT(*) FROM locks WHERE expires_at > wfq_now_ms()), "
                    "(SELECT COUNT(*) FROM locks WHERE expires_at <= wfq_now_ms())",
                    {dead_after_ms}).at(0);
                m.oldest_pending_age_ms = row.opt_i64(0);
                m.running_past_lease = row.i64(1);
                m.waiting = row.i64(2);
                m.waiting_past_deadline = row.i64(3);
                m.live_workers = row.i64(4);
                m.dead_workers = row.i64(5);
                m.held_locks = row.i64(6);
                m.expired_locks = row.i64(7);
                for (const auto& r : m_db->exec("SELECT queue FROM queue_pauses ORDER BY queue", {})) m.paused_queues.push_back(r.str(0));
                return m;
            },
            default_db_retry_policy());
    }

    // Jobs by state, type and queue. Every state but completed is counted exactly from its index
    // range (pending, running, waiting: their partial indexes; failed and cancelled: jobs_finished). Completed jobs
    // are most of a big table: past kExactCountRows rows (by the planner's count) their number is
    // the planner's row count less the exact others, split by type and queue as a fixed sample
    // of the table's pages splits it; m.completed_estimated says so. SQLite counts exactly.
    void count_jobs_by_state(QueueMetrics& m) {
        constexpr double kExactCountRows = 100000, kSampleRows = 30000;
        std::int64_t exact = 0;
        for (const auto& r : m_db->exec(
                 // One branch per active state, each on that state's partial index (see kQueueCounts).
                 "SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'pending' GROUP BY state, type, queue "
                 "UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY state, type, queue "
                 "UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs WHERE state = 'waiting' GROUP BY state, type, queue "
                 "UNION ALL SELECT state, type, queue, COUNT(*) FROM jobs "
                 "WHERE state IN ('failed', 'cancelled') AND " FINISHED_STATES_TERM " GROUP BY state, type, queue",
                 {})) {
            m.jobs.push_back({r.str(0), r.str(1), r.str(2), r.i64(3)});
            exact += r.i64(3);
        }
        auto total = m_db->estimated_rows("jobs");
        std::string sample = total && *total > kExactCountRows
                                 ? m_db->sample_clause(std::min(100.0, 100.0 * kSampleRows / *total))
                                 : std::string();
        if (sample.empty()) {
            for (const auto& r : m_db->exec("SELECT type, queue, COUNT(*) FROM jobs WHERE state = 'completed' AND " FINISHED_STATES_TERM " GROUP BY type, queue", {}))
                m.jobs.push_back({"completed", r.str(0), r.str(1), r.i64(2)});
        } else {
            m.completed_estimated = true;
            auto rows = m_db->exec("SELECT type, queue, COUNT(*) FROM jobs" + sample + " WHERE state = 'completed' GROUP BY type, queue", {});
            double sampled = 0;
            for (const auto& r : rows) sampled += static_cast<double>(r.i64(2));
            double completed = std::max(0.0, *total - static_cast<double>(exact));
            for (const auto& r : rows)
                m.jobs.push_back({"completed", r.str(0), r.str(1),
                                  std::llround(static_cast<double>(r.i64(2)) * completed / sampled)});
        }
        std::sort(m.jobs.begin(), m.jobs.end(), [](const QueueMetrics::Count& a, const QueueMetrics::Count& b) {
            return std::tie(a.state, a.type, a.queue) < std::tie(b.state, b.type, b.queue);
        });
    }

    std::vector<std::pair<std::string, double>> database_facts() override {
        std::lock_guard<std::recursive_mutex> lock(m_mutex);
        return retry([&] { return m_db->database_facts(); }, default_db_retry_policy());
    }

    void add_job_spans(std::int64_t job_id, int attempt, const std::vector<std::string>& spans) override {
        if (spans.empty()) return;
        transact([&] { insert_spans(job_id, attempt, spans); });
    }

    std::vector<std::string> job_spans(std::int64_t job_id) override {
        std::vector<std::string> out;
        for (const auto& r : run("SELECT data FROM job_events WHERE job_id = $1 AND kind = 'span' ORDER BY id", {job_id}))
            out.push_back(r.str(0));
        // Each attempt's spans are one line of the job's spans column, a JSON array.
        auto rows = run("SELECT spans FROM jobs WHERE id = $1", {job_id});
        if (rows.empty() || rows[0].is_null(0)) return out;
        const std::string& packed = rows[0].str(0);
        std::size_t start = 0;
        while (start < packed.size()) {
            auto end = packed.find('\n', start);
            if (end == std::string::npos) end = packed.size();
            std::string line = packed.substr(start, end - start);
            if (line.rfind("{\"v\":1,", 0) == 0) {
                try {
                    for (auto& sp : unpack_attempt_spans(line, job_id)) out.push_back(std::move(sp));
                } catch (const Error&) {
                }
            } else {
                auto spans = nlohmann::json::parse(line, nullptr, false);
                if (spans.is_array())
                    for (const auto& sp : spans) out.push_back(sp.dump());
            }
            start = end + 1;
        }
        return out;
    }

    // ---- workers ------------------------------------------------------------------------
    void register_worker(const WorkerInfo& w) override {
        run("INSERT INTO workers (id, hostname, pid, queues, types, started_at, last_heartbeat, running, stats) "
            "VALUES ($1, $2, $3, $4, $5, wfq_now_ms(), wfq_now_ms(), 0, '{}') ON CONFLICT (id) DO UPDATE SET "
            "last_heartbeat = excluded.last_heartbeat",
            {w.id, w.hostname, std::int64_t(w.pid), join_csv(w.queues), join_csv(w.types)});
    }

    void heartbeat(const std::string& worker_id, int running, const std::string& stats) override {
        run("UPDATE workers SET last_heartbeat = wfq_now_ms(), running = $2, stats = $3 WHERE id = $1",
            {worker_id, std::int64_t(running), stats});
    }

    void deregister_worker(const std::string& worker_id) override {
        run("DELETE FROM workers WHERE id = $1", {worker_id});
    }

    std::vector<WorkerInfo> list_workers() override {
        std::vector<WorkerInfo> out;
        for (const auto& r : run("SELECT id, hostname, pid, queues, types, started_at, last_heartbeat, running, stats "
                                 "FROM workers ORDER BY started_at, id",
                                 {})) {
            WorkerInfo w;
            w.id = r.str(0);
            w.hostname = r.str(1);
            w.pid = static_cast<int>(r.i64(2));
            w.queues = split_csv(r.str(3));
            w.types = split_csv(r.str(4));
            w.started_at = r.i64(5);
            w.last_heartbeat = r.i64(6);
            w.running = static_cast<int>(r.i64(7));
            w.stats = r.str(8);
            out.push_back(std::move(w));
        }
        return out;
    }

    // ---- locks --------------------------------------------------------------------------
    std::optional<LockGrant> lock_acquire(const std::string& key, const std::string& owner, std::int64_t ttl_ms) override {
        return transact("lock_acquire", [&]() -> std::optional<LockGrant> {
            std::int64_t token = m_db->exec(m_db->next_token_sql(), {}).at(0).i64(0);
            auto rows = m_db->exec(
                "INSERT INTO locks (key, owner, token, acquired_at, expires_at) VALUES ($1, $2, $3, wfq_now_ms(), "
                "wfq_now_ms() + $4) ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
                "acquired_at = excluded.acquired_at, expires_at = excluded.expires_at "
                "WHERE locks.expires_at <= wfq_now_ms() RETURNING token, acquired_at, expires_at",
                {key, owner, token, ttl_ms});
            if (rows.empty()) return std::nullopt;
            return LockGrant{key, owner, rows[0].i64(0), rows[0].i64(1), rows[0].i64(2), false};
        });
    }

    LockStatus lock_renew(const std::string& key, std::int64_t token, std::int64_t ttl_ms) override {
        return transact([&] {
            auto rows = m_db->exec(
                "UPDATE locks SET expires_at = wfq_now_ms() + $3 WHERE key = $1 AND token = $2 AND expires_at > wfq_now_ms() "
                "RETURNING token",
                {key, token, ttl_ms});
            return rows.empty() ? lock_missing(key) : LockStatus::ok;
        });
    }

    LockStatus lock_release(const std::string& key, std::int64_t token) override {
        return transact([&] {
            auto rows = m_db->exec(
                "DELETE FROM locks WHERE key = $1 AND token = $2 AND expires_at > wfq_now_ms() RETURNING token",
                {key, token});
            return rows.empty() ? lock_missing(key) : LockStatus::ok;
        });
    }

    std::vector<LockGrant> list_locks() override {
        std::vector<LockGrant> out;
        for (const auto& r : run("SELECT key, owner, token, acquired_at, expires_at, "
                                 "CASE WHEN expires_at <= wfq_now_ms() THEN 1 ELSE 0 END FROM locks ORDER BY key",
                                 {}))
            out.push_back({r.str(0), r.str(1), r.i64(2), r.i64(3), r.i64(4), r.i64(5) != 0});
        return out;
    }

    std::unique_ptr<AdvisoryLock> try_advisory_lock(const std::string& key) override {
        return retry([&] { return m_db->try_advisory_lock(key); }, default_db_retry_policy());
    }

    std::unique_ptr<Waker> open_waker() override {
        return retry([&] { return m_db->open_waker(); }, default_db_retry_policy());
    }

    // ---- config --------------------------------------------------------------------------
    void config_set(const std::string& scope, const std::string& doc) override {
        transact([&] {
            m_db->exec("INSERT INTO configs (scope, doc, updated_at) VALUES ($1, $2, wfq_now_ms()) ON CONFLICT (scope) "
                       "DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                       {scope, doc});
            record_config_change(scope);
        });
    }

    std::optional<std::string> config_get(const std::string& scope) override {
        auto rows = run("SELECT doc FROM configs WHERE scope = $1", {scope});
        if (rows.empty()) return std::nullopt;
        return rows[0].str(0);
    }

    bool config_unset(const std::string& scope) override {
        return transact([&] {
            if (m_db->exec("DELETE FROM configs WHERE scope = $1 RETURNING scope", {scope}).empty()) return false;
            record_config_change(scope);
            return true;
        });
    }

    std::vector<std::pair<std::string, std::string>> config_load(const std::vector<std::string>& scopes) override {
        std::string sql = "SELECT scope, doc FROM configs WHERE 1 = 1";
        Params params;
        add_in(sql, params, "scope", scopes);
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& r : run(sql, params)) out.emplace_back(r.str(0), r.str(1));
        return out;
    }

    void config_invalidate(const std::string& scope) override {
        transact([&] { record_config_change(scope); });
    }

    std::unique_ptr<ConfigWatcher> open_config_watcher() override {
        return retry([&] { return m_db->open_config_watcher(); }, default_db_retry_policy());
    }

    // ---- pipelines -----------------------------------------------------------------------
    bool set_current_stage(const JobRef& job, const std::string& stage) override {
        return !run("UPDATE jobs SET current_stage = $4, updated_at = wfq_now_ms() WHERE id = $1 AND lease_owner = $2 "
                    "AND attempt = $3 AND state = 'running' RETURNING id",
                    {job.id, job.lease_owner, std::int64_t(job.attempt), stage})
                    .empty();
    }

    bool add_checkpoint(const JobRef& job, const Checkpoint& c) override {
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

    std::vector<Checkpoint> load_checkpoints(std::int64_t job_id) override {
        std::vector<Checkpoint> out;
        for (const auto& r : run("SELECT seq, stage, kind, gzipped, raw_bytes, stored_bytes, data, summary FROM checkpoints "
                                 "WHERE job_id = $1 ORDER BY seq",
                                 {job_id})) {
            Checkpoint c;
            c.seq = static_cast<int>(r.i64(0));
            c.stage = r.str(1);
            c.kind = r.str(2);
            c.gzipped = r.i64(3) != 0;
            c.raw_bytes = static_cast<std::size_t>(r.i64(4));
            c.stored_bytes = static_cast<std::size_t>(r.i64(5));
            c.blob = r.str(6);
            c.summary = r.str(7);
            out.push_back(std::move(c));
        }
        return out;
    }

    std::vector<std::int64_t> signal(const std::string& event, const std::string& key, const std::string& data,
                                     std::int64_t keep_ms) override {
        return transact("signal", [&] {
            m_db->lock_name_for_transaction("signal:" + event + "\x1f" + key);
            std::string payload = "{\"event\":" + json_quote(event) + ",\"data\":" + data + "}";
            // Resuming is not a retry: the attempt the wait interrupted is given back.
            auto rows = m_db->exec(
                "UPDATE jobs SET state = 'pending', run_at = wfq_now_ms(), attempt = attempt - 1, signal_data = $3, "
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

    std::vector<StoredSignal> stored_signals() override {
        std::vector<StoredSignal> out;
        for (const auto& r : run("SELECT id, event, key, data, created_at, expires_at FROM signals WHERE consumed_by IS NULL "
                                 "AND (expires_at IS NULL OR expires_at > wfq_now_ms()) ORDER BY id",
                                 {})) {
            StoredSignal s;
            s.id = r.i64(0);
            s.event = r.str(1);
            s.key = r.str(2);
            s.data = r.str(3);
            s.created_at = r.i64(4);
            s.expires_at = r.opt_i64(5);
            out.push_back(std::move(s));
        }
        return out;
    }

    std::int64_t clear_signals(const std::string& event, const std::optional<std::string>& key) override {
        return transact([&] {
            auto rows = key ? m_db->exec("DELETE FROM signals WHERE consumed_by IS NULL AND event = $1 AND key = $2 RETURNING id",
                                         {event, *key})
                            : m_db->exec("DELETE FROM signals WHERE consumed_by IS NULL AND event = $1 RETURNING id", {event});
            return static_cast<std::int64_t>(rows.size());
        });
    }

    bool defer(const JobRef& job, std::int64_t delay_ms, const std::string& reason) override {
        Outcome o;
        o.job = job;
        o.kind = Outcome::Kind::deferred;
        o.delay_ms = delay_ms;
        o.message = reason;
        return record_outcomes({o}).at(0) == OutcomeStatus::recorded;
    }

    // ---- operating the queue: pauses, bulk actions, prompt cancel, schedules -------------
    // (DESIGN.md "Operating the queue"; kept together, apart from the engine's statements.)
    // Per queue: pending (due), scheduled, running, waiting, failed, completed in the last hour,
    // oldest due age, paused, completed and failed in the last minute. Each branch reads one
    // state's partial index (jobs_claim, jobs_running_lease, jobs_waiting: one branch per state,
    // so each predicate matches its index on both backends) or one range of jobs_finished (failed
    // jobs, the last hour's finishes), so a table of millions of finished jobs costs nothing
    // beyond its failed ones and the last hour's. (Migration 6's jobs_active_queue served the
    // active states in one index; migration 7 drops it: every enqueue paid for its entry.)
    static constexpr const char* kQueueCounts =
        "SELECT queue, SUM(pending) AS pending, SUM(scheduled) AS scheduled, SUM(running) AS running, "
        "SUM(waiting) AS waiting, SUM(failed) AS failed, SUM(completed_hour) AS completed_hour, "
        "wfq_now_ms() - MIN(oldest_due) AS oldest_age, MAX(paused) AS paused, SUM(completed_minute) AS completed_minute, "
        "SUM(failed_minute) AS failed_minute FROM ("
        "SELECT queue, SUM(CASE WHEN run_at <= wfq_now_ms() THEN 1 ELSE 0 END) AS pending, "
        "SUM(CASE WHEN run_at > wfq_now_ms() THEN 1 ELSE 0 END) AS scheduled, 0 AS running, 0 AS waiting, "
        "0 AS failed, 0 AS completed_hour, MIN(CASE WHEN run_at <= wfq_now_ms() THEN run_at END) AS oldest_due, "
        "0 AS paused, 0 AS completed_minute, 0 AS failed_minute FROM jobs WHERE state = 'pending' GROUP BY queue "
        "UNION ALL SELECT queue, 0, 0, COUNT(*), 0, 0, 0, NULL, 0, 0, 0 FROM jobs WHERE state = 'running' GROUP BY queue "
        "UNION ALL SELECT queue, 0, 0, 0, COUNT(*), 0, 0, NULL, 0, 0, 0 FROM jobs WHERE state = 'waiting' GROUP BY queue "
        "UNION ALL SELECT queue, 0, 0, 0, 0, COUNT(*), 0, NULL, 0, 0, 0 FROM jobs WHERE state = 'failed' AND " FINISHED_STATES_TERM " GROUP BY queue "
        "UNION ALL SELECT queue, 0, 0, 0, 0, 0, SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END), NULL, 0, "
        "SUM(CASE WHEN state = 'completed' AND finished_at >= wfq_now_ms() - 60000 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN state = 'failed' AND finished_at >= wfq_now_ms() - 60000 THEN 1 ELSE 0 END) "
        "FROM jobs WHERE state IN ('completed', 'failed') AND " FINISHED_STATES_TERM " AND finished_at >= wfq_now_ms() - 3600000 GROUP BY queue "
        "UNION ALL SELECT queue, 0, 0, 0, 0, 0, 0, NULL, 1, 0, 0 FROM queue_pauses) q GROUP BY queue";
    bool set_queue_paused(const std::string& queue, bool paused, const std::string& actor) override {
        return transact([&] {
            if (paused)
                return !m_db->exec("INSERT INTO queue_pauses (queue, paused_at, paused_by) VALUES ($1, wfq_now_ms(), $2) "
                                   "ON CONFLICT (queue) DO NOTHING RETURNING queue",
                                   {queue, actor})
                            .empty();
            if (m_db->exec("DELETE FROM queue_pauses WHERE queue = $1 RETURNING queue", {queue}).empty()) return false;
            m_db->notify_enqueued(queue);  // idle workers claim at once (SQLite: the commit wakes them)
            return true;
        });
    }

    std::vector<QueuePause> queue_pauses() override {
        std::vector<QueuePause> out;
        for (const auto& r : run("SELECT queue, paused_at, paused_by FROM queue_pauses ORDER BY queue", {}))
            out.push_back({r.str(0), r.str(2), r.i64(1)});
        return out;
    }

    std::vector<QueueSummary> queue_summaries() override {
        std::vector<QueueSummary> out;
        for (const auto& r : run(std::string(kQueueCounts) + " ORDER BY queue", {})) {
            QueueSummary s;
            s.queue = r.str(0);
            s.pending = r.i64(1);
            s.scheduled = r.i64(2);
            s.running = r.i64(3);
            s.waiting = r.i64(4);
            s.failed = r.i64(5);
            s.completed_last_hour = r.i64(6);
            s.oldest_pending_age_ms = r.opt_i64(7);
            s.paused = r.i64(8) != 0;
            out.push_back(std::move(s));
        }
        return out;
    }

    TopSnapshot top_snapshot(int rows) override {
        // One statement, sections told apart by the first column; the same columns everywhere:
        // kind, three texts, ten numbers.
        std::string sql =
            "SELECT 'now', NULL, NULL, NULL, wfq_now_ms(), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
            "UNION ALL SELECT 'queue', queue, NULL, NULL, pending, scheduled, running, waiting, failed, completed_hour, "
            "oldest_age, paused, completed_minute, failed_minute FROM (" + std::string(kQueueCounts) + ") qc "
            "UNION ALL SELECT 'worker', id, hostname, NULL, running, started_at, last_heartbeat, NULL, NULL, NULL, NULL, "
            "NULL, NULL, NULL FROM workers "
            "UNION ALL SELECT 'failure', type, queue, error_class, id, finished_at, attempt, NULL, NULL, NULL, NULL, NULL, NULL, "
            "NULL FROM (SELECT id, type, queue, error_class, finished_at, attempt FROM jobs WHERE state = 'failed' AND " FINISHED_STATES_TERM " "
            "ORDER BY finished_at DESC LIMIT $1) f "
            "UNION ALL SELECT 'stuck', type, queue, lease_owner, id, lease_expires_at, attempt, NULL, NULL, NULL, NULL, NULL, "
            "NULL, NULL FROM (SELECT id, type, queue, lease_owner, lease_expires_at, attempt FROM jobs WHERE state = 'running' "
            "AND lease_expires_at < wfq_now_ms() ORDER BY lease_expires_at LIMIT $1) s "
            "UNION ALL SELECT 'running', type, queue, lease_owner, id, started_at, attempt, NULL, NULL, NULL, NULL, NULL, "
            "NULL, NULL FROM (SELECT id, type, queue, lease_owner, started_at, attempt FROM jobs WHERE state = 'running' "
            "AND prefetched = 0 ORDER BY started_at, id LIMIT $1) l";
        TopSnapshot snap;
        for (const auto& r : run(sql, {std::int64_t(rows)})) {
            const std::string& kind = r.str(0);
            if (kind == "now") {
                snap.now = r.i64(4);
            } else if (kind == "queue") {
                TopSnapshot::QueueRow q;
                q.summary.queue = r.str(1);
                q.summary.pending = r.i64(4);
                q.summary.scheduled = r.i64(5);
                q.summary.running = r.i64(6);
                q.summary.waiting = r.i64(7);
                q.summary.failed = r.i64(8);
                q.summary.completed_last_hour = r.i64(9);
                q.summary.oldest_pending_age_ms = r.opt_i64(10);
                q.summary.paused = r.i64(11) != 0;
                q.completed_last_minute = r.i64(12);
                q.failed_last_minute = r.i64(13);
                snap.queues.push_back(std::move(q));
            } else if (kind == "worker") {
                snap.workers.push_back({r.str(1), r.str(2), static_cast<int>(r.i64(4)), r.i64(5), r.i64(6)});
            } else {
                TopSnapshot::JobRow j;
                j.type = r.str(1);
                j.queue = r.str(2);
                j.id = r.i64(4);
                j.at = r.opt_i64(5).value_or(0);
                j.attempt = static_cast<int>(r.i64(6));
                if (kind == "failure") {
                    j.error_class = r.opt_str(3).value_or("");
                    snap.recent_failures.push_back(std::move(j));
                } else {
                    j.worker = r.opt_str(3).value_or("");
                    (kind == "running" ? snap.longest_running : snap.stuck).push_back(std::move(j));
                }
            }
        }
        std::sort(snap.queues.begin(), snap.queues.end(),
                  [](const auto& a, const auto& b) { return a.summary.queue < b.summary.queue; });
        std::sort(snap.workers.begin(), snap.workers.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
        std::sort(snap.recent_failures.begin(), snap.recent_failures.end(), [](const auto& a, const auto& b) { return a.at > b.at; });
        std::sort(snap.longest_running.begin(), snap.longest_running.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
        return snap;
    }

    std::int64_t count_matching(const BulkFilter& filter) override {
        if (filter.only_finished_by_age()) {
            // One range of jobs_finished per state (not a pass over the whole table).
            std::int64_t total = 0;
            for (JobState state : filter.states)
                total += run("SELECT COUNT(*) FROM jobs WHERE state = $1 AND " FINISHED_STATES_TERM " AND finished_at < wfq_now_ms() - $2",
                             {std::string(to_string(state)), *filter.older_than_ms})
                             .at(0)
                             .i64(0);
            return total;
        }
        Params params;
        std::string where = bulk_where(filter, params, "jobs.");
        return run("SELECT COUNT(*) FROM jobs WHERE " + where, params).at(0).i64(0);
    }

    std::vector<BulkCandidate> find_matching(const BulkFilter& filter, std::int64_t after_id, int limit) override {
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

    std::vector<std::int64_t> apply_bulk(BulkAction action, const BulkFilter& filter,
                                         const std::vector<BulkCandidate>& candidates, const std::string& actor) override {
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

    std::unique_ptr<Waker> open_control_waker() override {
        return retry([&] { return m_db->open_control_waker(); }, default_db_retry_policy());
    }

    void schedule_put(const Schedule& s) override {
        transact([&] {
            m_db->exec("INSERT INTO schedules (name, cron, tz, type, queue, payload, priority, max_attempts, key, org, repo, "
                       "paused, next_run, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                       "$13, wfq_now_ms(), wfq_now_ms()) ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, "
                       "tz = excluded.tz, type = excluded.type, queue = excluded.queue, payload = excluded.payload, "
                       "priority = excluded.priority, max_attempts = excluded.max_attempts, key = excluded.key, "
                       "org = excluded.org, repo = excluded.repo, paused = excluded.paused, next_run = excluded.next_run, "
                       "updated_at = excluded.updated_at",
                       {s.name, s.cron, s.tz, s.type, s.queue, s.payload, std::int64_t(s.priority),
                        std::int64_t(s.max_attempts), opt(s.key), opt(s.org), opt(s.repo), std::int64_t(s.paused ? 1 : 0),
                        opt(s.next_run)});
        });
    }

    std::vector<Schedule> schedules() override {
        std::vector<Schedule> out;
        for (const auto& r : run("SELECT name, cron, tz, type, queue, payload, priority, max_attempts, key, org, repo, "
                                 "paused, next_run, last_run, last_job_id, created_at, updated_at FROM schedules ORDER BY name",
                                 {})) {
            Schedule s;
            s.name = r.str(0);
            s.cron = r.str(1);
            s.tz = r.str(2);
            s.type = r.str(3);
            s.queue = r.str(4);
            s.payload = r.str(5);
            s.priority = static_cast<int>(r.i64(6));
            s.max_attempts = static_cast<int>(r.i64(7));
            s.key = r.opt_str(8);
            s.org = r.opt_str(9);
            s.repo = r.opt_str(10);
            s.paused = r.i64(11) != 0;
            s.next_run = r.opt_i64(12);
            s.last_run = r.opt_i64(13);
            s.last_job_id = r.opt_i64(14);
            s.created_at = r.i64(15);
            s.updated_at = r.i64(16);
            out.push_back(std::move(s));
        }
        return out;
    }

    bool schedule_remove(const std::string& name) override {
        return transact([&] { return !m_db->exec("DELETE FROM schedules WHERE name = $1 RETURNING name", {name}).empty(); });
    }

    bool schedule_set_paused(const std::string& name, bool paused, std::optional<TimeMs> next_run) override {
        return transact([&] {
            return !m_db->exec("UPDATE schedules SET paused = $2, next_run = COALESCE($3, next_run), updated_at = wfq_now_ms() "
                               "WHERE name = $1 RETURNING name",
                               {name, std::int64_t(paused ? 1 : 0), opt(next_run)})
                        .empty();
        });
    }

    std::optional<std::int64_t> schedule_fire(const std::string& name, TimeMs expected_next_run, TimeMs tick,
                                              TimeMs new_next_run, const NewJob& job) override {
        return transact("schedule_fire", [&]() -> std::optional<std::int64_t> {
            // Compare-and-set on next_run: a second worker racing for this tick (on PostgreSQL it
            // waits for the first's row lock, then re-checks) changes nothing.
            if (m_db->exec("UPDATE schedules SET next_run = $3, last_run = $4, updated_at = wfq_now_ms() WHERE name = $1 "
                           "AND next_run = $2 AND paused = 0 RETURNING name",
                           {name, expected_next_run, new_next_run, tick})
                    .empty())
                return std::nullopt;
            std::vector<EnqueueResult> results;
            insert_rows({job}, 0, 1, results);
            m_db->exec("UPDATE schedules SET last_job_id = $2 WHERE name = $1", {name, results.at(0).id});
            m_db->notify_enqueued(job.queue);
            return results.at(0).id;
        });
    }

private:
    // The WHERE clause of a bulk filter; column names take prefix ("jobs.").
    static std::string bulk_where(const BulkFilter& f, Params& params, const std::string& prefix) {
        std::string sql = "1 = 1";
        std::vector<std::string> states, ids;
        for (auto s : f.states) states.emplace_back(to_string(s));
        add_in(sql, params, prefix + "state", states);
        if (!f.ids.empty()) {
            sql += " AND " + prefix + "id IN (" + placeholders(params.size() + 1, f.ids.size()) + ")";
            for (auto id : f.ids) params.emplace_back(id);
        }
        add_in(sql, params, prefix + "type", f.types);
        add_in(sql, params, prefix + "queue", f.queues);
        add_scope_filters(sql, params, prefix, f.error_classes, f.orgs, f.repos, f.older_than_ms, f.newer_than_ms,
                          f.running_longer_than_ms);
        return sql;
    }

    // The filters `jobs list` shares with retry and cancel: error class, org, repo, age by
    // updated_at, and running time (a handler runs it, by started_at; never a prefetched job).
    static void add_scope_filters(std::string& sql, Params& params, const std::string& prefix,
                                  const std::vector<std::string>& error_classes, const std::vector<std::string>& orgs,
                                  const std::vector<std::string>& repos, std::optional<std::int64_t> older_than_ms,
                                  std::optional<std::int64_t> newer_than_ms, std::optional<std::int64_t> running_longer_than_ms) {
        add_in(sql, params, prefix + "error_class", error_classes);
        add_in(sql, params, prefix + "org", orgs);
        add_in(sql, params, prefix + "repo", repos);
        if (older_than_ms) {
            sql += " AND " + prefix + "updated_at < wfq_now_ms() - $" + std::to_string(params.size() + 1);
            params.emplace_back(*older_than_ms);
        }
        if (newer_than_ms) {
            sql += " AND " + prefix + "updated_at >= wfq_now_ms() - $" + std::to_string(params.size() + 1);
            params.emplace_back(*newer_than_ms);
        }
        if (running_longer_than_ms) {
            sql += " AND " + prefix + "state = 'running' AND " + prefix + "prefetched = 0 AND " + prefix +
                   "started_at < wfq_now_ms() - $" + std::to_string(params.size() + 1);
            params.emplace_back(*running_longer_than_ms);
        }
    }

    std::vector<std::int64_t> apply_bulk_once(BulkAction action, const BulkFilter& filter,
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
            return changed;
        }
        std::string set, guard, kind, state, message;
        if (action == BulkAction::retry) {
            // A running job (only with --running-longer-than: a hung handler) keeps its attempt
            // count, so that its worker's late outcome (compare-and-set on the attempt) changes
            // nothing, and gets one more attempt if it had none left; its worker stops it.
            set = "state = 'pending', attempt = CASE WHEN jobs.state = 'running' THEN jobs.attempt ELSE 0 END, "
                  "max_attempts = CASE WHEN jobs.state = 'running' AND jobs.max_attempts <= jobs.attempt THEN jobs.attempt + 1 "
                  "ELSE jobs.max_attempts END, run_at = wfq_now_ms(), lease_owner = NULL, lease_expires_at = NULL, prefetched = 0, "
                  "finished_at = NULL, wait_event = NULL, wait_key = NULL, wait_deadline = NULL, updated_at = wfq_now_ms()";
            // Never a running job unless the filter asks for hung ones; never a job whose
            // idempotency key another active job now holds.
            guard = std::string(filter.running_longer_than_ms ? "" : " AND jobs.state <> 'running'") +
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

private:
    static constexpr std::int64_t kDefaultDeadAfterMs = 60000;

    void record_config_change(const std::string& scope) {
        m_db->exec("INSERT INTO config_changes (scope, at) VALUES ($1, wfq_now_ms())", {scope});
        m_db->notify_config(scope);
    }

    static std::string json_quote(const std::string& s) {
        std::string out;
        append_json_string(out, s);
        return out;
    }

    // Runs fn in a write transaction, retried when the database is unavailable. A commit whose
    // reply is lost is resolved by the Db (committed: fn's result stands), never replayed blindly.
    template <typename Fn>
    auto transact(Fn&& fn) -> decltype(fn()) {
        return transact("", std::forward<Fn>(fn));
    }
    template <typename Fn>
    auto transact(const char* label, Fn&& fn) -> decltype(fn()) {
        std::lock_guard<std::recursive_mutex> lock(m_mutex);
        return retry(
            [&]() -> decltype(fn()) {
                m_db->begin();
                try {
                    if constexpr (std::is_void_v<decltype(fn())>) {
                        fn();
                        m_db->commit(label);
                    } else {
                        auto result = fn();
                        m_db->commit(label);
                        return result;
                    }
                } catch (...) {
                    m_db->rollback();
                    throw;
                }
            },
            default_db_retry_policy());
    }

    // One statement outside a transaction, retried when the database is unavailable.
    Rows run(const std::string& sql, const Params& params) {
        std::lock_guard<std::recursive_mutex> lock(m_mutex);
        return retry([&] { return m_db->exec(sql, params); }, default_db_retry_policy());
    }

    void add_event(std::int64_t job_id, const std::string& kind, const std::string& state, int attempt,
                   const std::optional<std::string>& worker, const std::optional<std::string>& message,
                   const std::optional<std::string>& data = std::nullopt) {
        m_db->exec("INSERT INTO job_events (job_id, at, kind, state, attempt, worker, message, data) "
                   "VALUES ($1, wfq_now_ms(), $2, $3, $4, $5, $6, $7)",
                   {job_id, kind, state, std::int64_t(attempt), opt(worker), opt(message), opt(data)});
    }

    static std::string pack_spans(const std::vector<std::string>& spans) {
        if (spans.empty()) return "";
        std::string out = "[";
        for (std::size_t i = 0; i < spans.size(); ++i) out += (i ? "," : "") + spans[i];
        return out + "]";
    }

    // What an outcome writes in its job's row, shared by the two forms of the flush.
    static const char* outcome_state(const Outcome& o) {
        using K = Outcome::Kind;
        return o.kind == K::completed ? "completed" : o.kind == K::failed ? "failed" : "pending";
    }
    // Snoozes, deferrals and releases give the attempt back.
    static bool outcome_unspends(const Outcome& o) {
        using K = Outcome::Kind;
        return o.kind == K::snoozed || o.kind == K::deferred || o.kind == K::released;
    }
    // A job handed back while its handler ran counts toward --max-releases.
    static bool outcome_counts_release(const Outcome& o) { return o.kind == Outcome::Kind::released && o.handler_ran; }
    // Only failures write error_class and last_error.
    static bool outcome_failed(const Outcome& o) { return o.kind == Outcome::Kind::retry || o.kind == Outcome::Kind::failed; }

    // One outcome as a row of the JSON array record_in_transaction sends, written by hand: this
    // is the completer's hot path (nlohmann's dump cost more than the statement on SQLite).
    static void append_outcome_row(std::string& out, const Outcome& o) {
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
    static Params outcome_params(const Outcome& o) {
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

    static nlohmann::json outcome_event(const Outcome& o, std::optional<std::int64_t> started_at) {
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

    // Appends events given as a JSON array of {id, kind, state, attempt, worker, message, data}.
    void insert_events(const nlohmann::json& events) {
        m_db->exec("INSERT INTO job_events (job_id, at, kind, state, attempt, worker, message, data) "
                   "SELECT u.id, wfq_now_ms(), u.kind, u.state, u.attempt, u.worker, u.message, u.data FROM " +
                       m_db->json_rows("$1", {{"id", "bigint"}, {"kind", "text"}, {"state", "text"}, {"attempt", "integer"},
                                              {"worker", "text"}, {"message", "text"}, {"data", "text"}}),
                   {events.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
    }

    static std::string spans_line(const Outcome& o) { return o.spans.empty() ? "" : o.spans + "\n"; }

    // Parks a running job for (event, key); a signal already stored resumes it at once instead.
    OutcomeStatus park(const Outcome& o) {
        const JobRef& job = o.job;
        m_db->lock_name_for_transaction("signal:" + o.wait_event + "\x1f" + o.wait_key);
        auto stored = m_db->exec("SELECT id, data FROM signals WHERE event = $1 AND key = $2 AND consumed_by IS NULL "
                                 "AND (expires_at IS NULL OR expires_at > wfq_now_ms()) ORDER BY id LIMIT 1",
                                 {o.wait_event, o.wait_key});
        if (!stored.empty()) {
            std::string payload = "{\"event\":" + json_quote(o.wait_event) + ",\"data\":" + stored[0].str(1) + "}";
            auto rows = m_db->exec(
                "UPDATE jobs SET state = 'pending', run_at = wfq_now_ms(), attempt = attempt - 1, signal_data = $4, "
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

    void insert_spans(std::int64_t job_id, int attempt, const std::vector<std::string>& spans) {
        if (spans.empty()) return;
        std::string sql = "INSERT INTO job_events (job_id, at, kind, state, attempt, data) VALUES ";
        Params params{job_id, std::int64_t(attempt)};
        for (std::size_t i = 0; i < spans.size(); ++i) {
            sql += (i ? ", " : "") + std::string("($1, wfq_now_ms(), 'span', '', $2, $") + std::to_string(params.size() + 1) + ")";
            params.emplace_back(spans[i]);
        }
        m_db->exec(sql, params);
    }

    bool exists(std::int64_t id) { return !m_db->exec("SELECT 1 FROM jobs WHERE id = $1", {id}).empty(); }

    LockStatus lock_missing(const std::string& key) {
        return m_db->exec("SELECT 1 FROM locks WHERE key = $1", {key}).empty() ? LockStatus::unknown_key
                                                                               : LockStatus::not_held;
    }

    // COPY with ids taken from the sequence first (one round trip), so results keep their order.
    template <typename Phase>
    void copy_rows(const std::vector<NewJob>& jobs, std::vector<EnqueueResult>& results, Phase& phase) {
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
            rows.push_back({std::to_string(id), j.type, j.queue, j.payload, std::to_string(j.priority),
                            std::to_string(j.run_at ? *j.run_at : now + j.delay_ms), std::to_string(j.max_attempts),
                            j.lock_key, j.org, j.repo, j.correlation_id, j.traceparent, j.tracestate,
                            std::string("pending"), std::string("0"), now_text, now_text});
            results.push_back({id, false});
        }
        if (!m_db->copy_jobs(rows)) throw Error(ErrorCode::failure, "COPY is not available on this backend");
    }

    void insert_rows(const std::vector<NewJob>& jobs, std::size_t start, std::size_t end,
                     std::vector<EnqueueResult>& results) {
        std::string sql =
            "INSERT INTO jobs (type, queue, payload, priority, run_at, max_attempts, key, lock_key, org, repo, "
            "correlation_id, traceparent, tracestate, state, attempt, created_at, updated_at) VALUES ";
        Params params;
        params.reserve((end - start) * kEnqueueColumns);
        for (std::size_t i = start; i < end; ++i) {
            const NewJob& j = jobs[i];
            std::size_t b = params.size();
            auto p = [&](std::size_t k) { return "$" + std::to_string(b + k); };
            if (i > start) sql += ", ";
            sql += "(" + p(1) + ", " + p(2) + ", " + p(3) + ", " + p(4) + ", COALESCE(" + p(5) + ", wfq_now_ms() + " + p(6) +
                   "), " + p(7) + ", " + p(8) + ", " + p(9) + ", " + p(10) + ", " + p(11) + ", " + p(12) + ", " + p(13) +
                   ", " + p(14) + ", 'pending', 0, wfq_now_ms(), wfq_now_ms())";
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

    std::vector<Job> claim_once(const ClaimRequest& req) {
        Params params{req.worker_id, req.lease_ms};
        // The conditions every queue shares.
        std::string cond = "c.state = 'pending' AND c.run_at <= wfq_now_ms()";
        add_in(cond, params, "c.type", req.types);
        // A job with a lock key is a candidate only when no job with that key runs and it is the
        // oldest due job of its key, so one batch never holds two jobs of one key.
        if (req.unkeyed_only)
            cond += " AND c.lock_key IS NULL";
        else
            cond += " AND (c.lock_key IS NULL OR (NOT EXISTS (SELECT 1 FROM jobs r WHERE r.lock_key = c.lock_key AND "
                    "r.state = 'running') AND c.id = (SELECT MIN(p.id) FROM jobs p WHERE p.lock_key = c.lock_key AND "
                    "p.state = 'pending' AND p.run_at <= wfq_now_ms())))";
        params.emplace_back(std::int64_t(req.limit));
        const std::string limit = " LIMIT $" + std::to_string(params.size());
        const std::string order = " ORDER BY c.priority DESC, c.run_at, c.id";
        auto queue_pick = [&](const std::string& queue, const char* columns) {
            params.emplace_back(queue);
            const std::string q = "$" + std::to_string(params.size());
            return std::string("SELECT ") + columns + " FROM jobs c WHERE c.queue = " + q + " AND " + queue_not_paused(q) +
                   " AND " + cond + order + limit + m_db->skip_locked();
        };
        std::string pick;
        if (req.queues.empty()) {
            // Every queue: the claim index (queue, priority, run_at, id) gives no order across
            // queues, so this sorts every due job (the CLI always names its queues).
            pick = "SELECT c.id FROM jobs c WHERE " + no_paused_queue("c.queue") + " AND " + cond + order + limit +
                   m_db->skip_locked();
        } else if (req.queues.size() == 1) {
            pick = queue_pick(req.queues[0], "c.id");  // the claim index gives the order
        } else {
            // Several queues: the index gives each queue's order, not theirs together, so
            // `queue IN (a, b)` sorted every due job of both (a worker on two queues with
            // 100,000 jobs waiting did 161 jobs/s). Instead each queue gives its first LIMIT
            // jobs in index order, and the first LIMIT of those are claimed: the same jobs, read
            // in order. On PostgreSQL each queue's pick locks its rows (SKIP LOCKED); those lost
            // to another queue's are free again at commit, and until then another worker's
            // claim passes over them (with a backlog that small, it may find nothing and wait
            // for its next wake-up or poll).
            std::string arms;
            int n = 0;
            for (const auto& q : distinct_queues(req.queues)) {
                if (n > 0) arms += " UNION ALL ";
                arms += "SELECT * FROM (" + queue_pick(q, "c.id, c.priority, c.run_at") + ") q" + std::to_string(++n);
            }
            pick = "SELECT c.id FROM (" + arms + ") c" + order + limit;
        }
        std::string sql = "WITH picked AS MATERIALIZED (" + pick +
                          ") UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, "
                          "lease_expires_at = wfq_now_ms() + $2, started_at = wfq_now_ms(), updated_at = wfq_now_ms() "
                          "WHERE id IN (SELECT id FROM picked) RETURNING " +
                          kJobColumns;
        std::vector<Job> jobs;
        Rows rows = m_db->exec(sql, params);
        jobs.reserve(rows.size());
        for (auto& r : rows) jobs.push_back(job_from_row(std::move(r)));
        std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
            if (a.priority != b.priority) return a.priority > b.priority;
            if (a.run_at != b.run_at) return a.run_at < b.run_at;
            return a.id < b.id;
        });
        return jobs;
    }

    std::unique_ptr<Db> m_db;
    std::recursive_mutex m_mutex;
};

}  // namespace

std::unique_ptr<Store> make_sql_store(std::unique_ptr<Db> db, bool check_schema) {
    return std::make_unique<SqlStore>(std::move(db), check_schema);
}

}  // namespace wfq::store
