#pragma once
// `wfq why` and `wfq doctor`: explanations computed from the store, printed by the CLI.
#include <wfq/store.h>

#include <cstdint>
#include <string>
#include <vector>

namespace wfq {

struct WhyAnswer {
    // Machine-readable reason: scheduled, backing_off, snoozed, waiting_for_event, blocked_by_lock_key,
    // key_running, key_queued (a job of its idempotency key runs or is older and due),
    // concurrency_limited, rate_limited (flow control), queue_paused, no_live_worker, lease_expired, running, prefetched, ready, completed, failed,
    // cancelled.
    std::string reason;
    std::string explanation;  // one paragraph for people
};

// Why job id is not running now (or what it is doing). Throws Error(not_found).
WhyAnswer explain_job(Store& store, std::int64_t id, std::int64_t dead_after_ms = 60000);

// `wfq doctor --slow-after`'s default: a code review takes minutes, a hung one hours.
constexpr std::int64_t kDefaultSlowAfterMs = 30 * 60 * 1000;

struct Finding {
    std::string check, severity;  // severity: ok, warning, error
    std::string message, fix;     // fix: the command that addresses it ("" when none)
};

// Health checks: schema, reachability and latency, stuck jobs, dead workers, expired locks,
// waiting jobs past their deadline, and the database's own facts. A database that cannot be
// reached (at the first check or during a later one) ends the list with an `unreachable` finding.
// slow_after_ms > 0: a `slow_job` finding (error) for jobs whose handler has run longer.
std::vector<Finding> run_doctor(Store& store, std::int64_t dead_after_ms = 60000, std::int64_t slow_after_ms = kDefaultSlowAfterMs);

// The finding for a database that cannot be reached: check "unreachable", severity error.
// target names the database (redacted), error says what failed.
Finding unreachable_finding(const std::string& target, const std::string& error);
// The finding for a database that refuses wfq's settings (authentication, missing database,
// unwritable SQLite path, schema missing or old): check "configuration", severity error.
Finding configuration_finding(const std::string& target, const std::string& error);

// `wfq doctor`'s exit code for its findings: 69 with an `unreachable` finding, 78 with a
// `configuration` one (the codes every command uses for them), else 1 when any finding is an
// error, else 0.
int doctor_exit_code(const std::vector<Finding>& findings);

}  // namespace wfq
