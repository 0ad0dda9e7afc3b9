#pragma once
#include <wfq/clock.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wfq {

enum class JobState { pending, running, waiting, completed, failed, cancelled };

// Completed, failed or cancelled: the states the finished jobs' index (jobs_finished) holds.
inline bool is_finished(JobState s) noexcept {
    return s == JobState::completed || s == JobState::failed || s == JobState::cancelled;
}

const char* to_string(JobState state) noexcept;
// Exact lowercase names only; nullopt otherwise.
std::optional<JobState> parse_job_state(const std::string& name);
// The state listings show: `scheduled` (pending, run_at in the future) and `retrying`
// (pending, attempt > 0) refine `pending`.
std::string display_state(JobState state, TimeMs run_at, int attempt, TimeMs now);

// What enqueueing a key that a job already holds does (--key-mode, NDJSON and SQL `key_mode`):
// keep returns that job unchanged; replace (debounce) gives a pending job that has not started
// the new payload and run_at; preserve_run_at (throttle) the new payload only. A job with the
// key that has started (running, waiting, or pending again) is never modified: replace and
// preserve_run_at create one new pending job that runs after it.
enum class KeyMode { keep, replace, preserve_run_at };

const char* to_string(KeyMode mode) noexcept;  // keep, replace, preserve-run-at
// keep, replace, preserve-run-at (preserve_run_at too, the SQL spelling); nullopt otherwise.
std::optional<KeyMode> parse_key_mode(const std::string& name);

// What a producer supplies; the store fills in the rest.
struct NewJob {
    std::string type;
    std::string queue = "default";
    std::string payload = "{}";  // a JSON object, already validated
    int priority = 0;
    std::optional<TimeMs> run_at;         // absolute; else now + delay_ms
    std::int64_t delay_ms = 0;
    int max_attempts = 3;
    std::optional<std::string> key, lock_key, org, repo;
    std::vector<std::string> limits;  // limit keys (flow control), checked by check_limit_keys
    // Flow control's group (DESIGN.md "Flow control"): groups of equal priority take turns.
    // prepare_new_job defaults it to the org (none without one).
    std::optional<std::string> group;
    std::int64_t turn_lag = 0;  // set by the store: the job's place in its group's turns
    KeyMode key_mode = KeyMode::keep;
    std::string correlation_id;
    std::optional<std::string> traceparent, tracestate;
};

struct Job {
    std::int64_t id = 0;
    std::string type, queue, payload;
    int priority = 0;
    TimeMs run_at = 0;
    JobState state = JobState::pending;
    int attempt = 0, max_attempts = 0;
    int snoozes = 0;  // times a handler said "not now" (attempts not spent)
    int releases = 0;  // times handed back unfinished (worker stopped, --max-time); see --max-releases
    bool prefetched = false;  // running, but claimed ahead and waiting in its worker for a free handler
    std::optional<std::string> key, lock_key, org, repo;
    std::string correlation_id;
    // lease_owner is set while the job runs; last_worker names the worker of its latest attempt.
    std::optional<std::string> traceparent, tracestate, lease_owner, last_worker;
    std::optional<TimeMs> lease_expires_at;
    std::optional<std::string> current_stage, last_error, error_class, result;
    std::optional<std::string> wait_event, wait_key;
    std::optional<TimeMs> wait_deadline;
    TimeMs created_at = 0, updated_at = 0;
    std::optional<TimeMs> started_at, finished_at;
    std::optional<std::string> wait_spec;    // an unfulfilled wait: {"event","key","timeout_ms"}
    std::optional<std::string> signal_data;  // the signal that resumed it: {"event","data"}
    // Flow control: the job's limit keys (its lock key among them, sorted); held: pending but held
    // back until held_by (one of them) admits it.
    std::vector<std::string> limits;
    bool held = false;
    std::optional<std::string> held_by;
    // Its group, and its place among the groups' turns: claims order a priority's due jobs by
    // run_at (in ns) + turn_lag, 0 for a job without a group (see store/sql/turns.cpp).
    std::optional<std::string> group;
    std::int64_t turn_lag = 0;
    // Not stored: the effective config the worker resolved for this attempt (org/repo jobs).
    std::optional<std::string> config;
};

// One entry of a job's timeline.
struct JobEvent {
    std::int64_t id = 0, job_id = 0;
    TimeMs at = 0;
    std::string kind;   // enqueued, claimed, completed, retry_scheduled, failed, rescued, ...
    std::string state;  // the state after the event
    int attempt = 0;
    std::optional<std::string> worker, message, data;
};

// Identifies one attempt of a claimed job: finishing is compare-and-set on all three.
struct JobRef {
    std::int64_t id = 0;
    std::string lease_owner;
    int attempt = 0;
};

// What `jobs list` and the bulk actions select by besides state and ids; validated once, by
// make_scope (wfq/bulk.h), and turned into SQL once, by the store.
struct JobScope {
    std::vector<std::string> types, queues, error_classes, orgs, repos;
    std::optional<std::int64_t> older_than_ms, newer_than_ms;  // by updated_at
    // Running (a handler runs it, not prefetched) for longer than this, by started_at.
    std::optional<std::int64_t> running_longer_than_ms;
    bool empty() const {
        return types.empty() && queues.empty() && error_classes.empty() && orgs.empty() && repos.empty() &&
               !older_than_ms && !newer_than_ms && !running_longer_than_ms;
    }
};

struct JobFilter {
    std::vector<JobState> states;
    bool scheduled_only = false;  // pending with run_at in the future
    bool retrying_only = false;   // pending with attempt > 0
    JobScope scope;
    std::optional<std::string> lock_key;
    std::optional<std::string> key;  // idempotency key
    bool stuck = false;  // running with an expired lease or a dead worker
    std::optional<std::int64_t> before_id;  // only ids below this (keyset pagination)
    // Only ids above this, and the oldest first (paging forward through every match).
    std::optional<std::int64_t> after_id;
    int limit = 100;
};

struct WorkerInfo {
    std::string id, hostname;
    int pid = 0;
    std::vector<std::string> queues, types;
    TimeMs started_at = 0, last_heartbeat = 0;
    int running = 0;
    std::string stats = "{}";  // JSON the worker publishes with its heartbeat
};

struct LockGrant {
    std::string key, owner;
    std::int64_t token = 0;
    TimeMs acquired_at = 0, expires_at = 0;
    bool expired = false;
};

enum class LockStatus { ok, not_held, unknown_key };

struct MigrationInfo {
    int version = 0;
    std::string name;
    std::optional<TimeMs> applied_at;
};

}  // namespace wfq
