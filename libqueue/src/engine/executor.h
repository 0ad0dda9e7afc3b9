#pragma once
// Internal: the executor runs one job through its handler and returns what happened as an
// Outcome for the completer; it never writes job state.
#include <wfq/worker.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace wfq::engine {

// An attempt's fate as decided from the handler's intent: outcome is what the completer
// records (nullopt: nothing to record, e.g. the lease was already lost); name is used for
// logs, metrics and the attempt's span (completed, retried, failed, snoozed, parked,
// deferred, released, lost).
struct Decision {
    std::optional<Outcome> outcome;
    std::string name;
    std::string error_class;
    bool permanent = false;
};

// Turns a handler's result into the outcome to record: the retry policy and --max-snoozes
// decide between retry and failure, and a cancelled handler gives its job back only when the
// worker is stopping (otherwise its lease is gone and there is nothing to record), and only
// --max-releases times: then it fails with error_class release_limit.
Decision decide_outcome(const Job& job, const JobRef& ref, const HandlerResult& r, const JobPolicy& policy,
                        int max_snoozes, bool shutting_down, Random& random, int max_releases = 10);

// What ended a failed attempt, as the log and the timeline say it: "exit code 3", "timeout",
// "signal 9 (SIGKILL)", "protocol error", "the handler reported a failure", ...
std::string ended_by(const HandlerResult& r);

struct Attempt {
    Decision decision;
    HandlerResult result;
    double seconds = 0;
    std::string trace_id;
};

class Executor {
public:
    Executor(Handler& handler, Tracer& tracer, Store& store, ConfigCache* cache, const WorkerOptions& options,
             Clock& clock, Random& random, std::string worker_id);
    // Runs job (claimed with ref between claim_start_ns and claim_end_ns, Unix time): resolves
    // its config, runs the handler in the attempt's span, and decides the outcome, whose spans
    // field carries the attempt's spans. The job is taken by value: the handler gets it with
    // the attempt's traceparent and config (pass it with std::move to save a copy).
    Attempt run(Job job, const JobRef& ref, std::int64_t claim_start_ns, std::int64_t claim_end_ns,
                const std::atomic<bool>& cancel, const std::atomic<bool>& shutting_down);

private:
    Handler& m_handler;
    Tracer& m_tracer;
    Store& m_store;
    ConfigCache* m_cache;
    const WorkerOptions& m_options;
    Clock& m_clock;
    Random& m_random;
    std::string m_worker_id;
};

}  // namespace wfq::engine
