#pragma once
// Self-fencing timing (DESIGN.md "Faults"): a process that holds a lease (a job's or a lock's)
// stops its work by its own monotonic clock, whatever the database answers or fails to answer.
#include <algorithm>
#include <cstdint>

namespace wfq {

// The safety margin for clock rate and scheduling delay: a lease's local deadline is the start
// of its last successful renewal (or of the claim or acquire) + lease - margin. A fifth of the
// lease, at most 5 s.
constexpr std::int64_t fence_margin_ms(std::int64_t lease_ms) { return std::min<std::int64_t>(lease_ms / 5, 5000); }

// SIGTERM goes at the local deadline and SIGKILL this much later (at most configured_ms), so the
// process has ended half a margin before the database's expiry on a healthy clock.
constexpr std::int64_t fence_kill_grace_ms(std::int64_t lease_ms, std::int64_t configured_ms = 5000) {
    return std::min(configured_ms, fence_margin_ms(lease_ms) / 2);
}

// M: a fenced process is stopped at most this long after its lease's expiry as the database
// judges it (it is normally stopped before), and a rescuer takes a job only this long after
// that expiry, so on healthy clocks two runs of one job never overlap.
constexpr std::int64_t kFenceStopAfterExpiryMs = 1000;

}  // namespace wfq
