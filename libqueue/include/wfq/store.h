#pragma once
// The one store interface; SQLite and PostgreSQL implement it. Nothing above it branches
// on the backend.
#include <wfq/job.h>
#include <wfq/job_log.h>
#include <wfq/limits.h>
#include <wfq/operating.h>
#include <wfq/state.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wfq {

class Clock;

struct EnqueueResult {
    std::int64_t id = 0;
    bool duplicate = false;  // an active job with the same key already existed
    bool replaced = false;   // ... and took this payload (key modes replace, preserve-run-at)
};

struct ClaimRequest {
    std::string worker_id;
    std::vector<std::string> queues;  // empty: every queue
    std::vector<std::string> types;   // empty: every type
    int limit = 1;
    std::int64_t lease_ms = 30000;
    // Only jobs without a lock key: a claim that must not fail on the unique index of running
    // lock keys (it shares its transaction with outcomes).
    bool unkeyed_only = false;
};

struct Failure {
    std::string error_class;  // exit_code, timeout, crash, lease_expired, ...
    std::string message;      // stderr tail or reason
    // Retry after this delay; nullopt fails the job for good (dead letter).
    std::optional<std::int64_t> retry_in_ms;
};

struct RescueReport {
    std::vector<std::int64_t> requeued, failed;
};

enum class AdminResult { done, not_found, wrong_state };

// What the completer records for one attempt: a handler's intent, decided by the engine.
struct Outcome {
    enum class Kind { completed, retry, failed, snoozed, deferred, released, parked };
    JobRef job;
    Kind kind = Kind::completed;
    std::optional<std::string> result;  // completed: JSON kept as the result
    std::string error_class;            // retry, failed
    std::string message;                // retry, failed: the error; others: the reason
    std::int64_t delay_ms = 0;          // retry, snoozed, deferred: runnable again after this
    // deferred: the job's limit keys from now on (sorted), so that it is held until admitted;
    // empty: unchanged.
    std::vector<std::string> limit_keys;
    // parked: waiting for (wait_event, wait_key) until the timeout; wait_spec is kept for the
    // rescuer, max_attempts is the effective limit it applies at the deadline.
    std::string wait_event, wait_key, wait_spec;
    std::int64_t wait_timeout_ms = 0;
    int max_attempts = 0;
    // released: a handler ran the job (it counts toward --max-releases); false for a prefetched
    // job given back before it started.
    bool handler_ran = true;
    // retry, failed: what ended the attempt, kept in the timeline ("exit code 3", "signal 9",
    // "timeout", "protocol", ...; empty when not a process outcome).
    std::optional<int> exit_code;
    std::string ended_by;
    bool permanent = false;  // failed: at once (a permanent error), not because attempts ran out
    std::string spans;  // the attempt's finished spans as one JSON array of OTLP spans ("" for none)
    // The handler's stderr for this attempt, kept (in the same transaction) when the outcome is
    // recorded; a run that gave its attempt back keeps the number, so the attempt's last run wins.
    AttemptLog log;
};

// recorded: the job's state changed; lost: its lease was gone (compare-and-set failed);
// resumed: a parked outcome met a stored signal, so the job is runnable again at once.
enum class OutcomeStatus { recorded, lost, resumed };

// What `wfq metrics` and `wfq doctor` read about the queue, in a few queries.
struct QueueMetrics {
    struct Count {
        std::string state, type, queue;
        std::int64_t count = 0;
    };
    std::vector<Count> jobs;
    std::optional<std::int64_t> oldest_pending_age_ms;  // among pending jobs already due
    std::int64_t running_past_lease = 0, waiting = 0, waiting_past_deadline = 0;
    std::int64_t live_workers = 0, dead_workers = 0, held_locks = 0, expired_locks = 0;
    std::vector<std::string> paused_queues;
    // True when the completed counts in jobs are estimates (more than 10,000 completed jobs).
    bool completed_estimated = false;
    // The states whose counts in jobs are estimates: pending, completed, failed or cancelled
    // when it holds more than 10,000 jobs; running and waiting are always exact.
    std::vector<std::string> estimated_states;
};

// Wakes an idle worker when jobs are enqueued (LISTEN/NOTIFY on PostgreSQL,
// the database's change counter on SQLite).
class Waker {
public:
    virtual ~Waker() = default;
    // Blocks up to timeout_ms; true when something may have been enqueued.
    virtual bool wait(std::int64_t timeout_ms) = 0;
    // From any thread: ends the wait under way, and every later one returns false at once (a
    // worker closing, so that its waits can be long).
    virtual void interrupt() {}
    // The caller stops waiting for a while (it has work): a waker that watches for writes may
    // stop watching until the next wait.
    virtual void rest() {}
};

// Reports config changes to a running worker (NOTIFY on PostgreSQL, the change log on SQLite).
class ConfigWatcher {
public:
    virtual ~ConfigWatcher() = default;
    // Blocks up to timeout_ms; returns the scopes changed since the last call ("*": everything,
    // e.g. after a reconnect, when notifications may have been missed).
    virtual std::vector<std::string> poll(std::int64_t timeout_ms) = 0;
    // From any thread: ends the poll under way, and every later one returns at once.
    virtual void interrupt() {}
};

// A session-level advisory lock (PostgreSQL); released on destruction or when the session ends.
class AdvisoryLock {
public:
    virtual ~AdvisoryLock() = default;
    // False once the dedicated session is gone (the lock is lost).
    virtual bool alive() = 0;
};

enum class EnqueuePhase { ids, ids_taken, commit };

// Where a due, admitted job stands in its priority's group turns (`wfq why`): due jobs ahead of
// it in the claim order, of other groups (or of none) and of its own, counted up to a bound.
struct GroupTurnPlace {
    std::int64_t ahead_other = 0, ahead_own = 0;
    bool counted_all = true;  // false: more are ahead than were counted
    int weight = 1;           // its group's turns per round
    std::optional<std::string> rule;  // the rule that gives the weight, if any
};
using EnqueueHook = std::function<void(EnqueuePhase)>;

class Store {
public:
    virtual ~Store() = default;

    virtual std::string backend() const = 0;  // "sqlite" or "postgresql"
    virtual std::string describe() const = 0;  // redacted DSN
    // How many connections may usefully write enqueue batches at once (enqueue_batch with a
    // hook): 2 on PostgreSQL without a transaction pooler, else 1.
    virtual int parallel_enqueue_connections() const { return 1; }
    // A second connection to the same database for a worker role of its own (PostgreSQL), or
    // nullptr where the backend is best served by one connection per process (SQLite).
    virtual std::unique_ptr<Store> open_sibling() = 0;
    // How long a commit whose reply was lost may wait for the database to tell its outcome.
    virtual void set_in_doubt_wait_ms(std::int64_t ms) = 0;

    // Schema.
    virtual std::vector<MigrationInfo> migrate() = 0;  // returns the migrations it applied
    virtual std::vector<MigrationInfo> migration_status() = 0;
    // Throws Error(config) when the schema is missing or older than this binary.
    virtual void check_schema() = 0;
    virtual TimeMs db_now() = 0;

    // Producing.
    virtual EnqueueResult enqueue(const NewJob& job) = 0;
    // All in one transaction: either every job is stored or none. A caller that writes batches
    // on several connections at once and wants them in input order passes a hook, which the
    // transaction calls (again if it is retried) at three points: EnqueuePhase::ids before the
    // batch takes its ids (wait there for the previous batch's ids), ids_taken after, and commit
    // just before COMMIT (wait there for the previous batch's commit). An exception from the
    // hook rolls the batch back and is rethrown.
    virtual std::vector<EnqueueResult> enqueue_batch(const std::vector<NewJob>& jobs, const EnqueueHook& hook = {}) = 0;

    // Consuming.
    virtual std::vector<Job> claim_batch(const ClaimRequest& request) = 0;
    // The jobs running under this worker's leases (after a claim whose reply was lost, the
    // worker adopts those it does not know of).
    virtual std::vector<Job> running_jobs_of(const std::string& worker_id) = 0;
    // When the next pending job of these queues/types becomes due (nullopt: none pending).
    virtual std::optional<TimeMs> next_due(const std::vector<std::string>& queues,
                                           const std::vector<std::string>& types) = 0;
    // Extends the leases still held; returns the ids whose lease was lost.
    virtual std::vector<std::int64_t> renew_leases(const std::vector<JobRef>& jobs, std::int64_t lease_ms) = 0;
    // Marks running jobs as prefetched (claimed, waiting in their worker for a free handler) or
    // not (a handler runs them now), compare-and-set on each one's lease like a renewal.
    virtual void set_prefetched(const std::vector<JobRef>& jobs, bool prefetched) = 0;
    // Records outcomes of many attempts in one transaction (one statement for all but parked
    // ones), each compare-and-set on (id, lease owner, attempt, running). Returns one status per
    // outcome, in order.
    virtual std::vector<OutcomeStatus> record_outcomes(const std::vector<Outcome>& outcomes) = 0;
    // The same, and in the same transaction a claim (where one writer per process is best,
    // SQLite: one BEGIN IMMEDIATE for both). The claimed jobs go to claimed.
    virtual std::vector<OutcomeStatus> record_outcomes_and_claim(const std::vector<Outcome>& outcomes,
                                                                 const ClaimRequest& claim, std::vector<Job>& claimed) = 0;
    // Expired leases and jobs of workers silent for dead_after_ms go back to pending
    // (or to failed when attempts are exhausted).
    virtual RescueReport rescue(std::int64_t dead_after_ms) = 0;

    // Operating.
    virtual std::vector<Job> list_jobs(const JobFilter& filter) = 0;
    virtual std::optional<Job> get_job(std::int64_t id) = 0;
    virtual std::vector<JobEvent> job_events(std::int64_t id) = 0;
    // Deletes finished jobs older than the cut-off in batches; returns how many.
    virtual std::int64_t prune(std::int64_t older_than_ms, const std::vector<JobState>& states, int batch_size,
                               const std::function<void(std::int64_t)>& progress) = 0;
    // count_jobs false: jobs stays empty (doctor reads the rest).
    virtual QueueMetrics queue_metrics(std::int64_t dead_after_ms, bool count_jobs = true) = 0;
    // Backend facts for `wfq doctor`: (name, value) such as jobs_table_bytes, jobs_dead_rows,
    // oldest_transaction_age_s and inactive_replication_slots (PostgreSQL).
    virtual std::vector<std::pair<std::string, double>> database_facts() = 0;

    // Finished spans kept with the job's events (OTLP JSON, one per span), for `wfq trace show`.
    virtual void add_job_spans(std::int64_t job_id, int attempt, const std::vector<std::string>& spans) = 0;
    virtual std::vector<std::string> job_spans(std::int64_t job_id) = 0;
    // The stored logs of a job's attempts, oldest first (only attempt, when given).
    virtual std::vector<StoredAttemptLog> job_logs(std::int64_t job_id, std::optional<int> attempt) = 0;
    // Writes the logs of running attempts as they are so far (each replaces its attempt's log;
    // a job gone meanwhile gets none). One statement, not retried: the next write carries them.
    virtual void write_running_logs(const std::vector<StoredAttemptLog>& logs) = 0;

    // Workers.
    virtual void register_worker(const WorkerInfo& worker) = 0;
    virtual void heartbeat(const std::string& worker_id, int running, const std::string& stats) = 0;
    virtual void deregister_worker(const std::string& worker_id) = 0;
    virtual std::vector<WorkerInfo> list_workers() = 0;

    // Lease locks with fencing tokens; expiry by the database's clock.
    virtual std::optional<LockGrant> lock_acquire(const std::string& key, const std::string& owner,
                                                  std::int64_t ttl_ms) = 0;
    virtual LockStatus lock_renew(const std::string& key, std::int64_t token, std::int64_t ttl_ms) = 0;
    virtual LockStatus lock_release(const std::string& key, std::int64_t token) = 0;
    virtual std::vector<LockGrant> list_locks() = 0;
    // Throws Error(usage) where the backend has no advisory locks (SQLite).
    virtual std::unique_ptr<AdvisoryLock> try_advisory_lock(const std::string& key) = 0;

    virtual std::unique_ptr<Waker> open_waker() = 0;

    // Config documents per scope ("global", "org:O", "org:O/repo:R"); doc is a JSON object.
    // set and unset also tell running workers (see open_config_watcher).
    virtual void config_set(const std::string& scope, const std::string& doc) = 0;
    virtual std::optional<std::string> config_get(const std::string& scope) = 0;
    virtual bool config_unset(const std::string& scope) = 0;
    // The documents of those scopes that exist, in one read: (scope, doc) pairs.
    virtual std::vector<std::pair<std::string, std::string>> config_load(const std::vector<std::string>& scopes) = 0;
    // Tells running workers that cached configs under scope ("*": all) are stale.
    virtual void config_invalidate(const std::string& scope) = 0;
    virtual std::unique_ptr<ConfigWatcher> open_config_watcher() = 0;

    // Pipelines. Writes are compare-and-set on the job's lease, like finishing.
    virtual bool set_current_stage(const JobRef& job, const std::string& stage) = 0;
    virtual bool add_checkpoint(const JobRef& job, const Checkpoint& checkpoint) = 0;
    virtual std::vector<Checkpoint> load_checkpoints(std::int64_t job_id) = 0;
    // (A job is parked for an event by recording an Outcome of kind parked.)
    // Resumes the jobs waiting for (event, key) with data; when none waits, stores the signal for
    // the next wait, for keep_ms (0: until consumed or cleared). Returns the ids resumed (empty:
    // stored).
    virtual std::vector<std::int64_t> signal(const std::string& event, const std::string& key, const std::string& data,
                                             std::int64_t keep_ms = 0) = 0;
    // Stored signals no wait has consumed yet and that have not expired, oldest first.
    virtual std::vector<StoredSignal> stored_signals() = 0;
    // Deletes the stored signals of event (and key, when given); returns how many.
    virtual std::int64_t clear_signals(const std::string& event, const std::optional<std::string>& key) = 0;

    // ---- Operating the queue (DESIGN.md "Operating the queue") ----------------------------
    // Pauses or resumes a queue: claims skip a paused queue's jobs, enqueue still works.
    // Resuming wakes idle workers. Returns false when the queue already was in that state.
    virtual bool set_queue_paused(const std::string& queue, bool paused, const std::string& actor) = 0;
    virtual std::vector<QueuePause> queue_pauses() = 0;
    // Per queue counts for `wfq queues list`, in one statement.
    virtual std::vector<QueueSummary> queue_summaries() = 0;
    // Of names, those some job has had (now or before a prune), in no order; a name missing
    // here has no job. This default claims every name (a store without the record).
    virtual std::vector<std::string> queues_ever_used(const std::vector<std::string>& names) { return names; }
    // Everything `wfq top` shows in one statement: queues with rates, workers, the latest
    // failures and stuck jobs (at most rows of each of the last two).
    virtual TopSnapshot top_snapshot(int rows) = 0;
    // Jobs matching filter (its states included), how many, and a page of them in id order.
    virtual std::int64_t count_matching(const BulkFilter& filter) = 0;
    virtual std::vector<BulkCandidate> find_matching(const BulkFilter& filter, std::int64_t after_id, int limit) = 0;
    // Applies action to candidates in one transaction, compare-and-set on each one's state (and
    // the filter again): a job that changed meanwhile is skipped. Retry never touches running
    // jobs; cancel tells the workers running a cancelled job at once. Returns the ids changed.
    virtual std::vector<std::int64_t> apply_bulk(BulkAction action, const BulkFilter& filter,
                                                  const std::vector<BulkCandidate>& candidates,
                                                  const std::string& actor) = 0;
    // Wakes when an operator cancelled a running job (NOTIFY on PostgreSQL, a change counter on
    // SQLite), so workers stop its handler at once rather than at the next heartbeat.
    virtual std::unique_ptr<Waker> open_control_waker() = 0;

    // Flow control (DESIGN.md "Flow control"). Claims read the rules, so a change reaches every
    // worker at its next claim; setting or removing a rule looks again at the jobs it held back.
    virtual void limit_set(const LimitRule& rule) = 0;
    virtual bool limit_remove(const std::string& pattern) = 0;
    virtual std::vector<LimitRule> limit_rules() = 0;
    // Every rule with the keys it matches now: slots used, running, held back, tokens.
    virtual std::vector<LimitRuleUsage> limit_usage() = 0;
    // One key's usage (admitted, running, held back, tokens); zeros for a key nothing holds.
    virtual LimitKeyUsage limit_key_usage(const std::string& key) = 0;
    virtual GroupTurnPlace group_turn_place(const Job& job) = 0;

    // Schedules. put replaces a schedule of the same name.
    virtual void schedule_put(const Schedule& schedule) = 0;
    virtual std::vector<Schedule> schedules() = 0;
    virtual bool schedule_remove(const std::string& name) = 0;
    // Pauses or resumes; next_run is set (resume) or kept (nullopt).
    virtual bool schedule_set_paused(const std::string& name, bool paused, std::optional<TimeMs> next_run) = 0;
    // Enqueues job for the tick of schedule name if its next_run still is expected_next_run,
    // moving next_run to new_next_run in the same transaction: however many callers race,
    // one wins. Returns the job id (nullopt: another caller took the tick, or it is paused).
    virtual std::optional<std::int64_t> schedule_fire(const std::string& name, TimeMs expected_next_run,
                                                      TimeMs tick, TimeMs new_next_run, const NewJob& job) = 0;
};

struct StoreOptions {
    std::string url;     // resolved URL (see resolve_db_url)
    std::string schema = "wfq";
    bool check_schema = true;  // PostgreSQL: fail with Error(config) when migrations are missing
    Clock* clock = nullptr;    // SQLite's clock; the system clock when null
    // "transaction": a transaction-pooling PgBouncer sits in front of PostgreSQL, so nothing may
    // rely on session state (no LISTEN: polling instead; no session advisory locks; no prepared
    // statements; the schema set per transaction). "" or "none": a direct connection.
    std::string pooler;
};

// --pooler, else WFQ_POOLER; Error(usage) for a value other than none and transaction.
std::string resolve_pooler(const std::string& flag_value);

// --db, else WFQ_DB, else DATABASE_URL, else sqlite:$XDG_STATE_HOME/wfq/wfq.db.
std::string resolve_db_url(const std::string& flag_value);
// Hides passwords in URLs and keyword strings as "***": every password libpq's own parser would
// find (URI userinfo up to '@', `?password=` up to '&', keyword values with quotes and backslash
// escapes), and in free text (error messages) any `password=` and `://user:password@`.
std::string redact_dsn(const std::string& dsn);
// Opens (and on SQLite migrates) the store; Error(config) on a bad URL, Error(db_unavailable)
// when the server cannot be reached.
std::unique_ptr<Store> open_store(const StoreOptions& options);

}  // namespace wfq
