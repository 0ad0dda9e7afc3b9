#pragma once
// Internal: the executor runs one job through its handler and returns what happened as a
// Verdict (the Outcome for the completer, the decision for the reporter); it never writes job
// state.
#include "outcome.h"

#include <wfq/worker.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace wfq::engine {

// Turns a handler's result into the outcome to record: the retry policy and --max-snoozes
// decide between retry and failure, and a cancelled handler gives its job back only when the
// worker is stopping (otherwise its lease is gone and there is nothing to record), and only
// --max-releases times: then it fails with error_class release_limit.
// Sets the verdict's decision, outcome, error_class and permanent.
Verdict decide_outcome(const Job& job, const JobRef& ref, const HandlerResult& r, const JobPolicy& policy,
                       int max_snoozes, bool shutting_down, Random& random, int max_releases = 10);

// What ended a failed attempt, as the log and the timeline say it: "exit code 3", "timeout",
// "signal 9 (SIGKILL)", "protocol error", "the handler reported a failure", ...
std::string ended_by(const HandlerResult& r);

class Executor {
public:
    Executor(Handler& handler, Tracer& tracer, Store& store, ConfigCache* cache, const WorkerOptions& options,
             Clock& clock, Random& random, std::string worker_id);
    // Runs job (claimed with ref between claim_start_ns and claim_end_ns, Unix time): resolves
    // its config, runs the handler in the attempt's span, and decides the outcome, whose spans
    // field carries the attempt's spans. The job is taken by value: the handler gets it with
    // the attempt's traceparent and config (pass it with std::move to save a copy). The verdict
    // carries the run time, the stage times and the trace id for the reporter.
    Verdict run(Job job, const JobRef& ref, std::int64_t claim_start_ns, std::int64_t claim_end_ns,
                const std::atomic<bool>& cancel, const std::atomic<bool>& shutting_down);

    // run() in two halves, for an asynchronous handler: begin() opens the attempt's spans and
    // resolves its config (a failure to resolve it is the attempt's result, in early: the
    // handler is not started); the handler is started on attempt.job; end() decides the
    // outcome from the handler's result and closes the spans.
    struct Attempt {
        Job job;  // as the handler gets it: the attempt's traceparent and config
        JobRef ref;
        SpanRecord span, claim_span;
        std::vector<SpanRecord> others;  // config resolution, the handler's own
        std::int64_t started_ns = 0;
        std::optional<HandlerResult> early;
    };
    Attempt begin(Job job, const JobRef& ref, std::int64_t claim_start_ns, std::int64_t claim_end_ns);
    Verdict end(Attempt& attempt, HandlerResult r, bool shutting_down);
    Handler& handler() { return m_handler; }

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
