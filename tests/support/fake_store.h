#pragma once
// An in-memory Store for unit tests of the engine's services and the handlers: the methods they
// call keep jobs, locks, checkpoints and calls in plain containers (compare-and-set on leases
// like the real store), on a Clock the test moves. Everything else throws "not used by the
// engine", so a service that starts calling a new method shows up here. Tests can replace
// record_outcomes_and_claim with on_record to stage failures.
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/store.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace wfq::test {

class FakeWaker final : public Waker {
public:
    bool wait(std::int64_t) override { return false; }
};

class FakeConfigWatcher final : public ConfigWatcher {
public:
    std::vector<std::string> poll(std::int64_t) override { return {}; }
};

class FakeStore : public Store {
public:
    explicit FakeStore(Clock& clock) : m_clock(clock) {}

    // ---- set-up and inspection for tests ------------------------------------------------
    std::int64_t add_job(Job job) {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        if (job.id == 0) job.id = ++m_next_id;
        m_next_id = std::max(m_next_id, job.id);
        if (job.queue.empty()) job.queue = "default";
        if (job.max_attempts == 0) job.max_attempts = 3;
        jobs[job.id] = job;
        return job.id;
    }
    Job job(std::int64_t id) {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        return jobs.at(id);
    }
    // Takes the lease of a running job away (a rescue, a cancel, another worker).
    void take_lease(std::int64_t id) {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        jobs.at(id).lease_owner = "someone-else";
    }

    std::recursive_mutex mutex;
    std::map<std::int64_t, Job> jobs;
    std::vector<Outcome> recorded;                 // every outcome recorded, in order
    std::vector<ClaimRequest> claims;              // every claim asked (claim_batch and piggybacked)
    std::vector<std::pair<std::int64_t, bool>> prefetched_marks;
    std::vector<std::string> heartbeats;           // the stats document of each heartbeat
    std::map<std::string, LockGrant> locks;
    std::vector<std::string> lock_log;             // "acquire KEY", "release KEY"
    std::map<std::int64_t, std::vector<Checkpoint>> checkpoints;
    std::vector<std::string> stages;               // set_current_stage, in order
    int rescues = 0, prunes = 0;
    RescueReport rescue_report;
    std::function<void(const std::string& stage)> on_set_current_stage;
    std::function<std::vector<OutcomeStatus>(const std::vector<Outcome>&, const ClaimRequest&, std::vector<Job>&)> on_record;
    std::function<void()> on_renew;  // throw from it to stage an outage
    std::function<void(const ClaimRequest&)> on_claim;  // called before claim_batch claims (throw: it fails)
    bool fail_renewals = false;      // lock_renew throws db_unavailable
    int enqueue_batches = 0;         // enqueue_batch calls so far
    std::function<void(int batch)> fail_enqueue_batch;  // throw from it to fail that batch (0: the first)

    // ---- what the engine and the handlers call ------------------------------------------
    std::string backend() const override { return "fake"; }
    std::string describe() const override { return "fake:"; }
    std::unique_ptr<Store> open_sibling() override { return nullptr; }
    void set_in_doubt_wait_ms(std::int64_t) override {}
    TimeMs db_now() override { return m_clock.now_ms(); }

    std::vector<Job> claim_batch(const ClaimRequest& request) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        claims.push_back(request);
        if (on_claim) on_claim(request);
        return claim_locked(request);
    }
    std::vector<Job> running_jobs_of(const std::string& worker_id) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        std::vector<Job> out;
        for (auto& [id, j] : jobs)
            if (j.state == JobState::running && j.lease_owner == worker_id) out.push_back(j);
        return out;
    }
    std::optional<TimeMs> next_due(const std::vector<std::string>& queues, const std::vector<std::string>& types) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        std::optional<TimeMs> due;
        for (auto& [id, j] : jobs)
            if (j.state == JobState::pending && matches(j, queues, types)) due = std::min(due.value_or(j.run_at), j.run_at);
        return due;
    }
    std::vector<std::int64_t> renew_leases(const std::vector<JobRef>& refs, std::int64_t lease_ms) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        if (on_renew) on_renew();
        std::vector<std::int64_t> lost;
        for (const auto& r : refs) {
            if (holds(r)) jobs[r.id].lease_expires_at = m_clock.now_ms() + lease_ms;
            else lost.push_back(r.id);
        }
        return lost;
    }
    void set_prefetched(const std::vector<JobRef>& refs, bool prefetched) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        for (const auto& r : refs) {
            prefetched_marks.emplace_back(r.id, prefetched);
            if (holds(r)) jobs[r.id].prefetched = prefetched;
        }
    }
    std::vector<OutcomeStatus> record_outcomes(const std::vector<Outcome>& outcomes) override {
        std::vector<Job> none;
        return record_outcomes_and_claim(outcomes, ClaimRequest{{}, {}, {}, 0, 30000}, none);
    }
    std::vector<OutcomeStatus> record_outcomes_and_claim(const std::vector<Outcome>& outcomes, const ClaimRequest& claim,
                                                         std::vector<Job>& claimed) override {
        if (on_record) return on_record(outcomes, claim, claimed);  // set before the test starts threads
        std::lock_guard<std::recursive_mutex> lock(mutex);
        std::vector<OutcomeStatus> status;
        for (const auto& o : outcomes) {
            if (!holds(o.job)) {
                status.push_back(OutcomeStatus::lost);
                continue;
            }
            recorded.push_back(o);
            Job& j = jobs[o.job.id];
            j.lease_owner.reset();
            switch (o.kind) {
                case Outcome::Kind::completed: j.state = JobState::completed; break;
                case Outcome::Kind::failed: j.state = JobState::failed; break;
                case Outcome::Kind::parked: j.state = JobState::waiting; break;
                default:
                    j.state = JobState::pending;
                    j.run_at = m_clock.now_ms() + o.delay_ms;
                    break;
            }
            status.push_back(OutcomeStatus::recorded);
        }
        if (claim.limit > 0) {
            claims.push_back(claim);
            claimed = claim_locked(claim);
        }
        return status;
    }
    RescueReport rescue(std::int64_t) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        ++rescues;
        return rescue_report;
    }
    std::int64_t prune(std::int64_t, const std::vector<JobState>&, int, const std::function<void(std::int64_t)>&) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        ++prunes;
        return 0;
    }
    std::optional<Job> get_job(std::int64_t id) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        auto it = jobs.find(id);
        if (it == jobs.end()) return std::nullopt;
        return it->second;
    }

    void register_worker(const WorkerInfo&) override {}
    void heartbeat(const std::string&, int, const std::string& stats) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        heartbeats.push_back(stats);
    }
    void deregister_worker(const std::string&) override {}

    std::optional<LockGrant> lock_acquire(const std::string& key, const std::string& owner, std::int64_t ttl_ms) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        auto it = locks.find(key);
        if (it != locks.end() && it->second.expires_at > m_clock.now_ms()) return std::nullopt;
        LockGrant g{key, owner, ++m_next_token, m_clock.now_ms(), m_clock.now_ms() + ttl_ms, false};
        locks[key] = g;
        lock_log.push_back("acquire " + key);
        return g;
    }
    LockStatus lock_renew(const std::string& key, std::int64_t token, std::int64_t ttl_ms) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        if (fail_renewals) throw Error(ErrorCode::db_unavailable, "connection refused");
        auto it = locks.find(key);
        if (it == locks.end()) return LockStatus::unknown_key;
        if (it->second.token != token) return LockStatus::not_held;
        it->second.expires_at = m_clock.now_ms() + ttl_ms;
        return LockStatus::ok;
    }
    LockStatus lock_release(const std::string& key, std::int64_t token) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        auto it = locks.find(key);
        if (it == locks.end()) return LockStatus::unknown_key;
        if (it->second.token != token) return LockStatus::not_held;
        locks.erase(it);
        lock_log.push_back("release " + key);
        return LockStatus::ok;
    }

    std::unique_ptr<Waker> open_waker() override { return std::make_unique<FakeWaker>(); }
    std::unique_ptr<Waker> open_control_waker() override { return std::make_unique<FakeWaker>(); }
    std::unique_ptr<ConfigWatcher> open_config_watcher() override { return std::make_unique<FakeConfigWatcher>(); }
    std::vector<Schedule> schedules() override { return {}; }

    bool set_current_stage(const JobRef& ref, const std::string& stage) override {
        std::function<void(const std::string&)> hook;
        {
            std::lock_guard<std::recursive_mutex> lock(mutex);
            stages.push_back(stage);
            hook = on_set_current_stage;
        }
        if (hook) hook(stage);
        return holds_or_unknown(ref);
    }
    bool add_checkpoint(const JobRef& ref, const Checkpoint& checkpoint) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        if (!holds_or_unknown(ref)) return false;
        checkpoints[ref.id].push_back(checkpoint);
        return true;
    }
    std::vector<Checkpoint> load_checkpoints(std::int64_t job_id) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        return checkpoints[job_id];
    }

    // ---- not used by the engine ---------------------------------------------------------
    std::vector<MigrationInfo> migrate() override { unused("migrate"); }
    std::vector<MigrationInfo> migration_status() override { unused("migration_status"); }
    void check_schema() override { unused("check_schema"); }
    EnqueueResult enqueue(const NewJob&) override { unused("enqueue"); }
    // One transaction per batch: ids in order, a key an active job holds answers that job
    // (duplicate), and nothing is kept when the hook or fail_enqueue_batch throws.
    std::vector<EnqueueResult> enqueue_batch(const std::vector<NewJob>& batch, const EnqueueHook& hook) override {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        if (fail_enqueue_batch) fail_enqueue_batch(enqueue_batches);
        ++enqueue_batches;
        if (hook) hook(EnqueuePhase::ids);
        std::map<std::int64_t, Job> added;
        std::vector<EnqueueResult> out;
        std::int64_t next = m_next_id;
        for (const auto& n : batch) {
            std::optional<std::int64_t> holder;
            for (const auto* all : {&jobs, &added})
                for (const auto& [id, j] : *all)
                    if (n.key && j.key == n.key && !is_finished(j.state)) holder = id;
            if (holder) {
                out.push_back({*holder, true});
                continue;
            }
            Job j;
            j.id = ++next;
            j.type = n.type;
            j.queue = n.queue;
            j.payload = n.payload;
            j.priority = n.priority;
            j.max_attempts = n.max_attempts;
            j.key = n.key;
            j.run_at = n.run_at.value_or(m_clock.now_ms() + n.delay_ms);
            added[j.id] = j;
            out.push_back({j.id, false});
        }
        if (hook) hook(EnqueuePhase::ids_taken);
        if (hook) hook(EnqueuePhase::commit);
        m_next_id = next;
        jobs.insert(added.begin(), added.end());
        return out;
    }
    std::vector<Job> list_jobs(const JobFilter&) override { unused("list_jobs"); }
    std::vector<JobEvent> job_events(std::int64_t) override { unused("job_events"); }
    QueueMetrics queue_metrics(std::int64_t, bool) override { unused("queue_metrics"); }
    std::vector<std::pair<std::string, double>> database_facts() override { unused("database_facts"); }
    void add_job_spans(std::int64_t, int, const std::vector<std::string>&) override { unused("add_job_spans"); }
    std::vector<std::string> job_spans(std::int64_t) override { unused("job_spans"); }
    std::vector<StoredAttemptLog> job_logs(std::int64_t, std::optional<int>) override { unused("job_logs"); }
    void write_running_logs(const std::vector<StoredAttemptLog>&) override { unused("write_running_logs"); }
    std::vector<WorkerInfo> list_workers() override { unused("list_workers"); }
    std::vector<LockGrant> list_locks() override { unused("list_locks"); }
    std::unique_ptr<AdvisoryLock> try_advisory_lock(const std::string&) override { unused("try_advisory_lock"); }
    void config_set(const std::string&, const std::string&) override { unused("config_set"); }
    std::optional<std::string> config_get(const std::string&) override { unused("config_get"); }
    bool config_unset(const std::string&) override { unused("config_unset"); }
    std::vector<std::pair<std::string, std::string>> config_load(const std::vector<std::string>&) override { unused("config_load"); }
    void config_invalidate(const std::string&) override { unused("config_invalidate"); }
    std::vector<std::int64_t> signal(const std::string&, const std::string&, const std::string&, std::int64_t) override { unused("signal"); }
    std::vector<StoredSignal> stored_signals() override { unused("stored_signals"); }
    std::int64_t clear_signals(const std::string&, const std::optional<std::string>&) override { unused("clear_signals"); }
    bool set_queue_paused(const std::string&, bool, const std::string&) override { unused("set_queue_paused"); }
    std::vector<QueuePause> queue_pauses() override { unused("queue_pauses"); }
    std::vector<QueueSummary> queue_summaries() override { unused("queue_summaries"); }
    TopSnapshot top_snapshot(int) override { unused("top_snapshot"); }
    std::int64_t count_matching(const BulkFilter&) override { unused("count_matching"); }
    std::vector<BulkCandidate> find_matching(const BulkFilter&, std::int64_t, int) override { unused("find_matching"); }
    std::vector<std::int64_t> apply_bulk(BulkAction, const BulkFilter&, const std::vector<BulkCandidate>&, const std::string&) override {
        unused("apply_bulk");
    }
    void schedule_put(const Schedule&) override { unused("schedule_put"); }
    bool schedule_remove(const std::string&) override { unused("schedule_remove"); }
    bool schedule_set_paused(const std::string&, bool, std::optional<TimeMs>) override { unused("schedule_set_paused"); }
    void limit_set(const LimitRule&) override { unused("limit_set"); }
    bool limit_remove(const std::string&) override { unused("limit_remove"); }
    std::vector<LimitRule> limit_rules() override { unused("limit_rules"); }
    std::vector<LimitRuleUsage> limit_usage() override { unused("limit_usage"); }
    LimitKeyUsage limit_key_usage(const std::string&) override { unused("limit_key_usage"); }
    GroupTurnPlace group_turn_place(const Job&) override { unused("group_turn_place"); }
    std::optional<std::int64_t> schedule_fire(const std::string&, TimeMs, TimeMs, TimeMs, const NewJob&) override {
        unused("schedule_fire");
    }

private:
    [[noreturn]] static void unused(const char* method) {
        throw Error(ErrorCode::failure, std::string("FakeStore::") + method + ": not used by the engine");
    }
    static bool matches(const Job& j, const std::vector<std::string>& queues, const std::vector<std::string>& types) {
        return (queues.empty() || std::find(queues.begin(), queues.end(), j.queue) != queues.end()) &&
               (types.empty() || std::find(types.begin(), types.end(), j.type) != types.end());
    }
    // Under mutex: compare-and-set on (id, lease owner, attempt, running).
    bool holds(const JobRef& r) {
        auto it = jobs.find(r.id);
        return it != jobs.end() && it->second.state == JobState::running && it->second.lease_owner == r.lease_owner &&
               it->second.attempt == r.attempt;
    }
    // Handler tests run jobs the store never claimed: those are taken as held.
    bool holds_or_unknown(const JobRef& r) {
        std::lock_guard<std::recursive_mutex> lock(mutex);
        return !jobs.count(r.id) || holds(r);
    }
    std::vector<Job> claim_locked(const ClaimRequest& request) {
        std::vector<Job> out;
        const TimeMs now = m_clock.now_ms();
        for (auto& [id, j] : jobs) {
            if (static_cast<int>(out.size()) >= request.limit) break;
            if (j.state != JobState::pending || j.run_at > now || !matches(j, request.queues, request.types)) continue;
            if (request.unkeyed_only && j.lock_key) continue;
            j.state = JobState::running;
            j.lease_owner = request.worker_id;
            j.last_worker = request.worker_id;
            ++j.attempt;
            j.lease_expires_at = now + request.lease_ms;
            out.push_back(j);
        }
        return out;
    }

    Clock& m_clock;
    std::int64_t m_next_id = 0, m_next_token = 0;
};

}  // namespace wfq::test
