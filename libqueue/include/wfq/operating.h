#pragma once
// Operating the queue (DESIGN.md, "Operating the queue"): queue pauses, bulk actions by filter
// and periodic schedules. The types here travel through the Store; the rules live in
// bulk.h and schedule.h.
#include <wfq/clock.h>
#include <wfq/job.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wfq {

// A signal that arrived when no job waited for it, kept for the next wait until it expires.
struct StoredSignal {
    std::int64_t id = 0;
    std::string event, key, data;  // data: JSON
    TimeMs created_at = 0;
    std::optional<TimeMs> expires_at;  // nullopt: kept until consumed or cleared
};

struct QueuePause {
    std::string queue, paused_by;
    TimeMs paused_at = 0;
};

// One line of `wfq queues list`: a queue with jobs, a pause, or both.
struct QueueSummary {
    std::string queue;
    std::int64_t pending = 0;    // due now
    std::int64_t scheduled = 0;  // pending, run_at in the future
    std::int64_t running = 0, waiting = 0, failed = 0;
    std::int64_t completed_last_hour = 0;
    std::optional<std::int64_t> oldest_pending_age_ms;  // among due pending jobs
    bool paused = false;
    // Past 10,000 pending jobs in the queue, pending and scheduled are estimates; past 10,000
    // failed jobs in all, failed is (oldest_pending_age_ms stays exact).
    bool pending_estimated = false, failed_estimated = false;
};

// The fields of q that are estimates, by their JSON names ("pending", "scheduled", "failed").
std::vector<std::string> estimated_fields(const QueueSummary& q);
// A count as tables show it: "~N" when it is an estimate.
std::string count_text(std::int64_t n, bool estimated);

// What `wfq top` shows, read in one statement (one round trip per refresh).
struct TopSnapshot {
    struct QueueRow {
        QueueSummary summary;
        std::int64_t completed_last_minute = 0, failed_last_minute = 0;  // the rates
    };
    struct WorkerRow {
        std::string id, hostname;
        int running = 0;
        TimeMs started_at = 0, last_heartbeat = 0;
    };
    struct JobRow {  // a recent failure, a stuck job (running past its lease), or a running one
        std::int64_t id = 0;
        std::string type, queue, error_class, message, worker;
        TimeMs at = 0;  // failed at, the lease's expiry, or (running) when it was claimed
        int attempt = 0;
    };
    TimeMs now = 0;
    std::vector<QueueRow> queues;
    std::vector<WorkerRow> workers;
    std::vector<JobRow> recent_failures, stuck;
    // The jobs a handler has run longest (prefetched ones are not running yet): a handler that
    // hangs on a live worker renews its lease, so only its running time shows it.
    std::vector<JobRow> longest_running;
    // Flow control: the keys holding jobs back now, most held first (filled from
    // Store::limit_usage by limits_at_limit, not by top_snapshot).
    struct LimitRow {
        std::string rule, key;
        std::int64_t running = 0, held = 0;
        std::optional<int> concurrency;
    };
    std::vector<LimitRow> limits;
};

enum class BulkAction { retry, cancel, prune };
const char* to_string(BulkAction action) noexcept;

// Which jobs a bulk action touches: every non-empty part must match (lists: any of).
struct BulkFilter {
    std::vector<std::int64_t> ids;
    std::vector<JobState> states;  // never empty once validated (the action's default)
    JobScope scope;

    // Finished states and --older-than, nothing else (`jobs prune --older-than D`): a finished
    // job's updated_at is its finished_at, which the finished jobs' index orders.
    bool only_finished_by_age() const {
        JobScope rest = scope;
        rest.older_than_ms.reset();
        return !states.empty() && std::all_of(states.begin(), states.end(), is_finished) && scope.older_than_ms &&
               ids.empty() && rest.empty();
    }
};

// A matching job as it was seen, so that the change is compare-and-set on its state.
struct BulkCandidate {
    std::int64_t id = 0;
    JobState state = JobState::pending;
};

// A periodic job: five-field cron in a time zone, and what to enqueue at each tick.
struct Schedule {
    std::string name, cron, tz = "UTC";
    std::string type, queue = "default", payload = "{}";
    int priority = 0, max_attempts = 3;
    std::optional<std::string> key, org, repo;
    KeyMode key_mode = KeyMode::keep;  // what a tick does when a job with key is pending (--key-mode)
    std::vector<std::string> limits;   // its jobs' limit keys (--limit) and group (--group; else the org)
    std::optional<std::string> group;
    bool paused = false;
    std::optional<TimeMs> next_run, last_run;  // next tick due; the tick last enqueued
    std::optional<std::int64_t> last_job_id;
    TimeMs created_at = 0, updated_at = 0;
};

}  // namespace wfq
