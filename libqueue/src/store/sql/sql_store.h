#pragma once
// Internal: the queue's SQL, shared by both backends through the Db interface. One class, its
// members defined in one file per table family (named beside each group below), each file
// holding its statements and their helpers; row mappers are in rows.h, shared SQL fragments in
// sql_text.h. Times are epoch milliseconds from wfq_now_ms(): the server's clock on
// PostgreSQL, the injected clock on SQLite.
#include "../db.h"

#include <wfq/retry.h>

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <mutex>
#include <type_traits>

namespace wfq::store {

class SqlStore final : public Store {
public:
    // sql_store.cpp: opening, and what the facade passes through to the Db.
    SqlStore(std::unique_ptr<Db> db, bool check);
    std::string backend() const override;
    std::string describe() const override;
    int parallel_enqueue_connections() const override;
    std::unique_ptr<Store> open_sibling() override;
    void set_in_doubt_wait_ms(std::int64_t ms) override;

    // schema.cpp
    std::vector<MigrationInfo> migrate() override;
    std::vector<MigrationInfo> migration_status() override;
    void check_schema() override;
    TimeMs db_now() override;

    // enqueue.cpp
    EnqueueResult enqueue(const NewJob& job) override;
    std::vector<EnqueueResult> enqueue_batch(const std::vector<NewJob>& jobs, const EnqueueHook& hook = {}) override;

    // claim.cpp: claims, the idle worker's next due time, lease renewal, prefetch marks.
    std::vector<Job> claim_batch(const ClaimRequest& request) override;
    std::vector<Job> running_jobs_of(const std::string& worker_id) override;
    std::optional<TimeMs> next_due(const std::vector<std::string>& queues, const std::vector<std::string>& types) override;
    std::vector<std::int64_t> renew_leases(const std::vector<JobRef>& jobs, std::int64_t lease_ms) override;
    void set_prefetched(const std::vector<JobRef>& jobs, bool prefetched) override;
    std::unique_ptr<Waker> open_waker() override;

    // outcomes.cpp
    std::vector<OutcomeStatus> record_outcomes(const std::vector<Outcome>& outcomes) override;
    std::vector<OutcomeStatus> record_outcomes_and_claim(const std::vector<Outcome>& outcomes, const ClaimRequest& claim,
                                                         std::vector<Job>& claimed) override;

    // rescue.cpp
    RescueReport rescue(std::int64_t dead_after_ms) override;

    // jobs_admin.cpp: reading jobs, one-job retry and cancel, prune, counts.
    std::vector<Job> list_jobs(const JobFilter& filter) override;
    std::optional<Job> get_job(std::int64_t id) override;
    std::int64_t prune(std::int64_t older_than_ms, const std::vector<JobState>& states, int batch_size,
                       const std::function<void(std::int64_t)>& progress) override;

    // events.cpp: a job's timeline and its spans.
    std::vector<JobEvent> job_events(std::int64_t id) override;
    void add_job_spans(std::int64_t job_id, int attempt, const std::vector<std::string>& spans) override;
    std::vector<std::string> job_spans(std::int64_t job_id) override;

    // logs.cpp: each attempt's handler stderr.
    std::vector<StoredAttemptLog> job_logs(std::int64_t job_id, std::optional<int> attempt) override;
    void write_running_logs(const std::vector<StoredAttemptLog>& logs) override;

    // queues.cpp: pauses, per-queue counts, top, metrics, database facts.
    bool set_queue_paused(const std::string& queue, bool paused, const std::string& actor) override;
    std::vector<QueuePause> queue_pauses() override;
    std::vector<QueueSummary> queue_summaries() override;
    std::vector<std::string> queues_ever_used(const std::vector<std::string>& names) override;
    TopSnapshot top_snapshot(int rows) override;
    QueueMetrics queue_metrics(std::int64_t dead_after_ms, bool count_jobs = true) override;
    std::vector<std::pair<std::string, double>> database_facts() override;

    // bulk.cpp: bulk retry, cancel and prune, and the control waker their cancels wake.
    std::int64_t count_matching(const BulkFilter& filter) override;
    std::vector<BulkCandidate> find_matching(const BulkFilter& filter, std::int64_t after_id, int limit) override;
    std::vector<std::int64_t> apply_bulk(BulkAction action, const BulkFilter& filter,
                                         const std::vector<BulkCandidate>& candidates, const std::string& actor) override;
    std::unique_ptr<Waker> open_control_waker() override;

    // workers.cpp
    void register_worker(const WorkerInfo& worker) override;
    void heartbeat(const std::string& worker_id, int running, const std::string& stats) override;
    void deregister_worker(const std::string& worker_id) override;
    std::vector<WorkerInfo> list_workers() override;

    // locks.cpp
    std::optional<LockGrant> lock_acquire(const std::string& key, const std::string& owner, std::int64_t ttl_ms) override;
    LockStatus lock_renew(const std::string& key, std::int64_t token, std::int64_t ttl_ms) override;
    LockStatus lock_release(const std::string& key, std::int64_t token) override;
    std::vector<LockGrant> list_locks() override;
    std::unique_ptr<AdvisoryLock> try_advisory_lock(const std::string& key) override;

    // config.cpp
    void config_set(const std::string& scope, const std::string& doc) override;
    std::optional<std::string> config_get(const std::string& scope) override;
    bool config_unset(const std::string& scope) override;
    std::vector<std::pair<std::string, std::string>> config_load(const std::vector<std::string>& scopes) override;
    void config_invalidate(const std::string& scope) override;
    std::unique_ptr<ConfigWatcher> open_config_watcher() override;

    // pipelines.cpp: stages, checkpoints, signals (and parking a job for one, see park).
    bool set_current_stage(const JobRef& job, const std::string& stage) override;
    bool add_checkpoint(const JobRef& job, const Checkpoint& checkpoint) override;
    std::vector<Checkpoint> load_checkpoints(std::int64_t job_id) override;
    std::vector<std::int64_t> signal(const std::string& event, const std::string& key, const std::string& data,
                                     std::int64_t keep_ms = 0) override;
    std::vector<StoredSignal> stored_signals() override;
    std::int64_t clear_signals(const std::string& event, const std::optional<std::string>& key) override;

    // limits.cpp: rules, usage, and the admission of held-back jobs (claims call admit_held).
    void limit_set(const LimitRule& rule) override;
    bool limit_remove(const std::string& pattern) override;
    std::vector<LimitRule> limit_rules() override;
    std::vector<LimitRuleUsage> limit_usage() override;
    LimitKeyUsage limit_key_usage(const std::string& key) override;
    // turns.cpp: group turns (flow control).
    GroupTurnPlace group_turn_place(const Job& job) override;

    // schedules.cpp
    void schedule_put(const Schedule& schedule) override;
    std::vector<Schedule> schedules() override;
    bool schedule_remove(const std::string& name) override;
    bool schedule_set_paused(const std::string& name, bool paused, std::optional<TimeMs> next_run) override;
    std::optional<std::int64_t> schedule_fire(const std::string& name, TimeMs expected_next_run, TimeMs tick,
                                              TimeMs new_next_run, const NewJob& job) override;

private:
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

    // sql_store.cpp: one statement outside a transaction, retried when the database is unavailable.
    Rows run(const std::string& sql, const Params& params);

    // schema.cpp
    bool schema_current();

    // enqueue.cpp (insert_rows and after_insert also serve schedule_fire)
    template <typename Phase>
    void copy_rows(const std::vector<NewJob>& jobs, std::vector<EnqueueResult>& results, Phase& phase,
                   std::vector<NewJob>* to_turn);
    void insert_rows(const std::vector<NewJob>& jobs, std::size_t start, std::size_t end,
                     std::vector<EnqueueResult>& results);
    // After the rows are in: held-back jobs' keys noted for admission, workers of the queues woken.
    void after_insert(const std::vector<NewJob>& jobs);
    void insert_unkeyed(const std::vector<NewJob>& jobs, std::size_t start, std::size_t end,
                        std::vector<EnqueueResult>& results);
    static std::string insert_values(const NewJob& job, Params& params);
    EnqueueResult enqueue_keyed(const NewJob& job);
    void note_superseded(const std::string& key, std::int64_t by);

    // claim.cpp (claim_once also serves record_outcomes_and_claim, in its transaction).
    // claim_fast: one statement claiming the due jobs without limit keys among the first
    // LIMIT; claim_limited (in a transaction): admission, then the first LIMIT admitted jobs,
    // spending rate tokens; limits_active: whether held or admitted jobs exist (cached briefly).
    std::vector<Job> claim_once(const ClaimRequest& req);
    std::vector<Job> claim_fast(const ClaimRequest& req);
    std::vector<Job> claim_limited(const ClaimRequest& req);
    bool limited_claim_due(std::size_t fast_claimed, int limit);
    std::string claim_pick(const ClaimRequest& req, Params& params, const char* columns);

    // limits.cpp: admits held-back jobs whose keys freed slots (or whose time came), under the
    // flow-control lock the caller holds.
    void admit_held(TimeMs now, const std::vector<LimitRule>& rules);
    // The tokens each key's bucket holds at now (rate-limited keys: their rule has a rate).
    std::map<std::string, double> bucket_tokens(const std::vector<std::string>& keys, const std::vector<LimitRule>& rules,
                                                TimeMs now);
    std::vector<LimitRule> load_rules();
    // turns.cpp: sets the run_at and turn_lag of a batch's grouped jobs (their place in their
    // group's turns), inside the enqueue transaction; group_rules: the rules, read again after 1 s.
    void assign_turns(std::vector<NewJob>& jobs);
    const std::vector<LimitRule>& group_rules();
    void release_held_matching(const std::string& pattern);

    // outcomes.cpp
    std::vector<OutcomeStatus> record_in_transaction(const std::vector<Outcome>& outcomes);

    // logs.cpp: the logs of the outcomes recorded (status[i] not lost), in the flush's transaction.
    void insert_attempt_logs(const std::vector<Outcome>& outcomes, const std::vector<OutcomeStatus>& status);
    // Upserts logs (job id, attempt, log); only_existing: not for jobs deleted meanwhile.
    void upsert_logs(const std::vector<std::tuple<std::int64_t, int, const AttemptLog*>>& logs, bool only_existing);

    // jobs_admin.cpp. state_is_small: whether a state holds at most the count cap (list_jobs
    // then reads its jobs from the state's index and sorts them).
    bool state_is_small(JobState state);
    std::int64_t prune_batch(std::int64_t older_than_ms, JobState state, int batch_size);

    // events.cpp: event rows written by outcomes, rescue, admin, bulk and signals.
    void add_event(std::int64_t job_id, const std::string& kind, const std::string& state, int attempt,
                   const std::optional<std::string>& worker, const std::optional<std::string>& message,
                   const std::optional<std::string>& data = std::nullopt);
    void insert_events(const nlohmann::json& events);
    void insert_spans(std::int64_t job_id, int attempt, const std::vector<std::string>& spans);

    // queues.cpp: counts that stay cheap whatever a table holds. exact_count_cap is how far a
    // count goes before it stops (10,000); capped_count counts the jobs
    // matching `where` up to cap + 1; sample_counts estimates the jobs by state, type and
    // queue from a fixed sample of the table; pending_queues finds
    // the queues with pending jobs from the claim index, one step each; queue_rows gives
    // queues list's and top's per-queue counts.
    struct SampledCount {
        std::string state, type, queue;
        double count = 0, due = 0;
    };
    void count_jobs_by_state(QueueMetrics& m);
    static std::int64_t exact_count_cap();
    std::int64_t capped_count(const std::string& where, const Params& params, std::int64_t cap);
    std::vector<SampledCount> sample_counts();
    std::vector<std::pair<std::string, std::int64_t>> pending_queues(std::int64_t cap);
    std::optional<TimeMs> oldest_due(const std::vector<std::string>& queues, TimeMs now);
    std::vector<TopSnapshot::QueueRow> queue_rows();

    // claim.cpp: the first due time among one queue's pending jobs of one held range (types: any
    // when empty; unpaused: none when the queue is paused), one index step per priority.
    std::optional<TimeMs> first_run_at(const std::string& queue, const char* held, const std::vector<std::string>& types,
                                       bool unpaused);

    // bulk.cpp (bulk_where's scope filters also serve list_jobs)
    static std::string bulk_where(const BulkFilter& f, Params& params, const std::string& prefix);
    static void add_scope_filters(std::string& sql, Params& params, const std::string& prefix, const JobScope& scope);
    std::vector<std::int64_t> apply_bulk_once(BulkAction action, const BulkFilter& filter,
                                              const std::vector<BulkCandidate>& candidates, const std::string& actor);

    // locks.cpp
    LockStatus lock_missing(const std::string& key);

    // config.cpp
    void record_config_change(const std::string& scope);

    // pipelines.cpp: parks a running job for (event, key); a stored signal resumes it at once.
    OutcomeStatus park(const Outcome& o);

    std::unique_ptr<Db> m_db;
    std::recursive_mutex m_mutex;
    // limited_claim_due: when limits were last seen in use, and when a limited claim last ran.
    std::int64_t m_limits_checked_ns = 0, m_limited_claim_ns = 0;
    bool m_limits_active = true;
    std::vector<LimitRule> m_group_rules;
    std::optional<std::int64_t> m_group_rules_ns;
};

}  // namespace wfq::store
