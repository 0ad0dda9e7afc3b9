#include "process_result.h"

#include <wfq/duration.h>
#include <wfq/process_runner.h>

namespace wfq {

HandlerResult handler_result_of(const ProcessResult& p, std::int64_t timeout_ms, const std::string& where) {
    using O = HandlerResult::Outcome;
    HandlerResult r;
    r.exit_code = p.exit_code;
    auto with_tail = [&](const std::string& what) { return where + what + (p.stderr_tail.empty() ? "" : ": " + p.stderr_tail); };
    if (p.spawn_failed) {
        r.outcome = O::failure;
        r.exit_code = 127;
        r.ended_by = where + "could not start (exit code 127)";
        r.error = where + p.spawn_error;
    } else if (p.cancelled) {
        r.outcome = O::cancelled;
        if (!p.stderr_tail.empty()) r.error = where + p.stderr_tail;
    } else if (p.timed_out) {
        r.outcome = O::timeout;
        r.ended_by = where + "timeout after " + format_duration_ms(timeout_ms);
        r.error = with_tail("timed out after " + format_duration_ms(timeout_ms));
    } else if (p.term_signal) {
        r.outcome = O::crash;
        r.ended_by = where + describe_signal(p.term_signal);
        r.error = with_tail("killed by " + describe_signal(p.term_signal));
    } else if (p.exit_code != 0) {
        r.outcome = O::failure;
        r.error = where + (p.stderr_tail.empty() ? "exit code " + std::to_string(p.exit_code) : p.stderr_tail);
    } else {
        r.outcome = O::success;
    }
    return r;
}

}  // namespace wfq
