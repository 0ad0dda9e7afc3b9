#pragma once
// The processing loop behind `wfq process`, in the shape of river: a claimer fetches batches,
// executors run handlers on a pool of threads and return outcomes, a completer alone records
// them in batches, and a lease keeper (with the heartbeat and the rescuer) renews leases on a
// connection of its own. It rides out database outages up to max_outage_ms and stops
// gracefully.
#include <wfq/config_cache.h>
#include <wfq/host_port.h>
#include <wfq/job_log.h>
#include <wfq/metrics.h>
#include <wfq/trace.h>
#include <wfq/queue.h>
#include <wfq/store.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace wfq {

class Clock;
class Random;
class LiveLogs;

// What a handler says about one attempt: an intent, never a write. The worker's completer alone
// turns it into job state.
struct HandlerResult {
    // parked: waiting for an event (see wait); deferred: given back for later without spending
    // the attempt (e.g. a busy lock key); snoozed: "not now, again in delay_ms".
    enum class Outcome { success, failure, timeout, crash, cancelled, parked, deferred, snoozed } outcome = Outcome::success;
    int exit_code = 0;
    std::optional<std::string> output;  // JSON kept as the result
    std::string error;                  // stderr tail or reason
    std::string error_class;            // overrides the class derived from the outcome
    bool permanent = false;             // fail at once, whatever the exit code
    // What ended the attempt when it is not an exit code ("signal 9 (SIGKILL)", "timeout",
    // "protocol error", ...); empty: derived from the outcome (see engine/executor.h).
    std::string ended_by;
    std::vector<SpanRecord> spans;      // the handler's own spans (pipeline stages, checkpoints)
    std::vector<double> stage_seconds;
    std::int64_t delay_ms = 0;  // deferred, snoozed
    // deferred: the limit keys the job must hold from now on (its workflow's `limits`), all of
    // them, sorted; it waits for admission (flow control) before it runs again. Empty: unchanged.
    std::vector<std::string> hold_for_keys;
    struct Wait {
        std::string event, key, spec;  // spec: {"event","key","timeout"}, kept to wait again after a retry
        std::int64_t timeout_ms = 0;
    };
    std::optional<Wait> wait;  // parked
    AttemptLog log;            // the handler's stderr lines for this attempt (capped), kept with the job
};

class Handler {
public:
    virtual ~Handler() = default;
    // Runs one attempt of a job. cancel becomes true when the job must stop (lease lost,
    // shutdown grace over); the handler should then return promptly.
    virtual HandlerResult run(const Job& job, const std::atomic<bool>& cancel) = 0;
    // True when start() returns at once and calls done later: the worker then keeps
    // --concurrency jobs in flight without a thread blocked on each (stream handlers).
    virtual bool asynchronous() const { return false; }
    // Starts one attempt; done is called exactly once with its result, on any thread and with
    // no lock of the handler's held (it may start the next job). cancel must outlive that call.
    // By default the attempt runs here: done(run(job, cancel)).
    virtual void start(const Job& job, const std::atomic<bool>& cancel, std::function<void(HandlerResult)> done) {
        done(run(job, cancel));
    }
};

struct ExecHandlerOptions {
    std::vector<std::string> command;
    std::int64_t timeout_ms = 0;
    std::int64_t kill_grace_ms = 5000;
    std::string db_url;  // exported as WFQ_DB
    std::size_t log_cap = kDefaultLogCap;  // each attempt's stderr kept with the job (0: none)
    // Where each running attempt's log is opened, for the worker to write it while the attempt
    // runs (the same registry as WorkerOptions::live_logs); null: written with the outcome only.
    LiveLogs* live_logs = nullptr;
};

// Runs a command per job with the handler contract of DESIGN.md.
std::unique_ptr<Handler> make_exec_handler(const ExecHandlerOptions& options);

struct ProcessSpec;
// The process the handler contract describes for job: command, the WFQ_* environment and
// TRACEPARENT, stderr lines logged with the job's ids, the kill grace and cancellation.
ProcessSpec handler_process(const Job& job, const ExecHandlerOptions& options, const std::vector<std::string>& command,
                            const std::atomic<bool>& cancel);

// `wfq process --statsd HOST:PORT`: a counter and a timing per attempt, by job type and outcome.
struct StatsdOptions {
    std::string host;
    int port = 0;
    bool dogstatsd = false;         // type and outcome as DogStatsD tags instead of parts of the name
    std::vector<std::string> tags;  // constant DogStatsD tags ("key:value"), --statsd-tag
    std::string prefix = "wfq";
};

struct WorkerOptions {
    std::vector<std::string> queues = {"default"};
    std::vector<std::string> types;
    int concurrency = 1;
    std::int64_t lease_ms = 30000;
    std::int64_t heartbeat_ms = 0;  // 0: lease / 3
    std::int64_t poll_ms = 1000;
    std::int64_t grace_ms = 10000;  // after SIGTERM/SIGINT, before handlers are stopped
    std::int64_t max_jobs = 0;      // 0: unlimited
    std::int64_t max_time_ms = 0;   // 0: unlimited
    bool until_empty = false;
    bool until_drained = false;  // with until_empty: also wait for the retries of jobs it ran
    std::int64_t rescue_interval_ms = 15000;  // 0: never rescue
    std::int64_t dead_after_ms = 60000;       // a worker silent this long is dead
    std::int64_t schedule_interval_ms = 1000; // how often due schedules are enqueued (0: never)
    // A database outage longer than this ends the worker with Error(db_unavailable) (exit 69).
    std::int64_t max_outage_ms = 300000;
    int prefetch = -1;       // jobs claimed beyond the free executors (-1: adaptive, see engine/claimer.h)
    int max_snoozes = 100;   // a job snoozed this often fails with error_class snooze_limit
    // A job handed back unfinished (worker stopped, --max-time) more often than this fails with
    // error_class release_limit (a handler that hangs under cron would otherwise loop forever).
    int max_releases = 10;
    // Finished jobs (with their events and checkpoints) older than this are deleted in batches
    // of 1,000, one transaction each, by one worker at a time (0: keep them).
    std::int64_t retention_ms = 0;
    JobPolicy policy;
    // Jobs with an org (and repo) get their effective config through this cache; a watcher
    // thread applies invalidations from `wfq config set/unset` and `wfq cache invalidate`.
    bool resolve_config = true;
    CacheOptions cache;
    std::int64_t config_poll_ms = 250;  // the pause before the config watcher is reopened after a failure
    // Spans: one consumer span per attempt (child of the job's stored context) with children
    // for the claim and config resolution; kept with the job's events and exported by tracer.
    Tracer* tracer = nullptr;  // null: spans are still made and stored, not exported
    // Prometheus textfile written every heartbeat and at exit (empty: none).
    std::string metrics_file;
    // Serve the worker's metrics and the queue gauges (refreshed every heartbeat) at /metrics
    // (port 0: one the system picks; the log says which).
    std::optional<HostPort> metrics_listen;
    std::optional<StatsdOptions> statsd;
    // The handler's registry of running attempts' logs (ExecHandlerOptions::live_logs): the
    // completer writes the ones that changed every live_log_interval_ms (null: none).
    LiveLogs* live_logs = nullptr;
    std::int64_t live_log_interval_ms = 500;
    // Per-type retry policy (workflow files); types not listed use `policy`.
    std::map<std::string, JobPolicy> type_policies;
    // The config scope (org, repo) of a job; default: the job's own org and repo.
    std::function<std::pair<std::optional<std::string>, std::optional<std::string>>(const Job&)> config_scope;
};

struct WorkerStats {
    std::int64_t claimed = 0, completed = 0, retried = 0, failed = 0, released = 0, lost = 0, rescued = 0;
    std::int64_t snoozed = 0, parked = 0, deferred = 0;
    // Jobs this worker started that wait in backoff for a retry when it stops (--until-empty
    // says so; --until-drained waits for them).
    std::int64_t retrying_later = 0, next_retry_in_ms = 0;
    bool interrupted = false;
    CacheStats cache;
};

class Worker {
public:
    Worker(Store& store, Handler& handler, WorkerOptions options, Clock& clock, Random& random);
    ~Worker();
    const std::string& id() const;
    // Runs until a stop condition; stop (set from a signal handler) begins a graceful stop.
    WorkerStats run(const std::atomic<bool>& stop);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// A worker is alive while its last heartbeat is younger than dead_after_ms (the rescuer's rule).
bool worker_alive(const WorkerInfo& worker, TimeMs now, std::int64_t dead_after_ms);

// Runs one rescue pass under the single-instance lock "wfq:rescuer"; returns nullopt when
// another process holds it.
std::optional<RescueReport> rescue_once(Store& store, const std::string& owner, std::int64_t dead_after_ms);

}  // namespace wfq
