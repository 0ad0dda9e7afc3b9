#pragma once
// Producing jobs and the per-type retry policy: the rules every producer and worker shares.
#include <wfq/backoff.h>
#include <wfq/job.h>
#include <wfq/store.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace wfq {

class Random;

// What happens after a failed attempt.
struct JobPolicy {
    BackoffPolicy backoff = *backoff_preset("STANDARD");
    std::optional<int> max_attempts;           // overrides the job's own max_attempts when set
    std::set<int> permanent_exit_codes = {65};  // these exit codes fail the job at once
};

// Decides the Failure to record: retry after a backoff delay, or fail for good when the code is
// permanent or the attempts are exhausted.
Failure decide_failure(const Job& job, const JobPolicy& policy, const std::string& error_class,
                       const std::string& message, bool permanent, Random& random);

// Checks and completes a job before it is stored: type and names, payload a JSON object,
// priority and attempts in range, traceparent per W3C (an invalid one is dropped with a
// warning, so a new trace starts), correlation id generated when absent.
// Throws Error(bad_input) for bad data, Error(usage) for bad flags. payload_checked: the payload
// came from parse_job_line, which checked it with its line (it is not parsed again).
void prepare_new_job(NewJob& job, Random& random, std::vector<std::string>* warnings = nullptr,
                     bool payload_checked = false);

class Tracer;
struct TraceContext;
// Enqueues one prepared job inside a producer span ("send QUEUE", a child of parent when given):
// the job carries the span's context, so processing continues the trace; the span is stored
// with a new job and exported through tracer.
EnqueueResult enqueue_with_span(Store& store, Tracer& tracer, NewJob& job, const std::optional<TraceContext>& parent);

// Parses one NDJSON line: {"type": ..., "payload": {...}, "queue", "priority", "run_at",
// "delay", "max_attempts", "key", "lock_key", "limits", "org", "repo", "correlation_id",
// "traceparent"}.
// Fields absent from the line come from defaults. Throws Error(bad_input) with the reason.
NewJob parse_job_line(const std::string& line, const NewJob& defaults);

// How long a running job's handler has run, from its claim (nullopt: not running, or
// prefetched: claimed, but waiting in its worker for a free handler).
std::optional<std::int64_t> running_ms(const Job& job, TimeMs now);

}  // namespace wfq
