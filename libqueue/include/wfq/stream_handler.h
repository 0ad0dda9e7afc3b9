#pragma once
// Stream handlers (`wfq process --stream -- CMD`): long-lived handler processes that serve many
// jobs each over NDJSON on stdin/stdout (DESIGN.md, "Stream handlers"). The handler is
// asynchronous (Handler::start): a job's line goes to one of the processes and its answer comes
// back on that process's reader thread, so a worker keeps --concurrency jobs in flight without a
// thread waiting on each; run() starts a job and waits for it.
#include <wfq/clock.h>
#include <wfq/worker.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wfq {

struct StreamHandlerOptions {
    std::vector<std::string> command;
    int procs = 1;                      // handler processes
    std::int64_t timeout_ms = 0;        // per job (0: none): then {"cancel": id}, stopped as below; error_class timeout
    std::int64_t grace_ms = 10000;      // on stop: after stdin is closed, time for the processes to exit
    std::int64_t kill_grace_ms = 5000;  // then SIGTERM, and SIGKILL after this
    // A job that must stop (its lease is lost, it is cancelled or timed out, or the worker's stop
    // grace is over) is sent {"cancel": id}; a process that has not answered for it this long after is
    // stopped as an exec handler would be: SIGTERM at half of it, SIGKILL at the end. Its other
    // jobs in flight fail as crash, and the process is restarted for the jobs still to come.
    std::int64_t cancel_grace_ms = 5000;
    std::string db_url;                 // exported as WFQ_DB
    std::size_t max_line = 1 << 20;     // a longer answer line is a protocol error
    // First restart delay after a crash or a protocol error, doubled per failure in a row
    // (a process that answered a job resets it), capped at max_restart_ms.
    std::int64_t restart_ms = 100;
    std::int64_t max_restart_ms = 10000;
    std::size_t log_cap = kDefaultLogCap;  // each attempt's stderr lines kept with the job (0: none)
    LiveLogs* live_logs = nullptr;         // see ExecHandlerOptions::live_logs
};

// The handler processes start at once. Destroying the handler stops them cleanly: their stdin
// is closed, they get grace_ms to exit, then SIGTERM and SIGKILL (whole process groups). Job
// deadlines (timeout_ms), the cancel grace and the stop grace are measured on clock.
std::unique_ptr<Handler> make_stream_handler(const StreamHandlerOptions& options, Clock& clock = SystemClock::instance());

// One line a stream handler wrote, read per the protocol: the job it answers and the outcome.
struct StreamAnswer {
    std::int64_t id = 0;
    HandlerResult result;
};
// Throws Error(bad_input) "a line that is not JSON: …" or "a line without a numeric \"id\": …"
// (a protocol error: the handler is restarted); an answer without "ok" or with a bad "snooze"
// is a failed job (error_class protocol or bad_output), not an exception.
StreamAnswer parse_stream_answer(std::string_view line);

// The NDJSON line wfq sends for job (no newline); deadline_ms is a Unix time in ms, or 0.
std::string stream_job_line(const Job& job, std::int64_t deadline_ms);

}  // namespace wfq
