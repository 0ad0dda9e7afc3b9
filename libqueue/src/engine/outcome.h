#pragma once
// Internal: what became of one attempt, as a typed value that travels from the executor through
// the completer to the reporter.
#include <wfq/store.h>

#include <optional>
#include <string>
#include <vector>

namespace wfq::engine {

// An attempt's fate, as logs, stats, metrics and the attempt's span name it.
enum class Decision { completed, retried, failed, snoozed, parked, deferred, released, lost };

// "completed", "retried", ...: the name logs, metrics and spans use.
const std::string& decision_name(Decision decision);

// The executor's verdict on one attempt: the outcome the completer records (nullopt: nothing
// to record, the lease is gone) and what the reporter says about it.
struct Verdict {
    Decision decision = Decision::lost;
    std::optional<Outcome> outcome;
    std::string error_class;  // failed, retried: the class the log line names
    bool permanent = false;   // failed at once (a permanent error, a limit), not for want of attempts
    double seconds = 0;       // the attempt's run time (0: no handler ran)
    std::vector<double> stage_seconds;
    std::string trace_id;     // the attempt's trace ("" when none was made)
};

}  // namespace wfq::engine
