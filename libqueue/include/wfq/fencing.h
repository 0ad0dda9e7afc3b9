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

// An advisory lock lives as long as its database session, and the server ends a session it
// hears nothing from no sooner than this: wfq's sessions set tcp_user_timeout to 10 s and
// keepalives to 5 s idle + 3 probes 2 s apart. So a holder cut off from the server stops its
// command by the last answered check's start + min(TTL, this) - margin, before the server can
// give the lock to anyone else. A server that ends the session itself (a restart,
// pg_terminate_backend) frees the lock at once: nothing local bounds that (DESIGN.md "Locks").
constexpr std::int64_t kAdvisorySilentSessionMs = 10000;
constexpr std::int64_t advisory_fence_window_ms(std::int64_t ttl_ms) { return std::min(ttl_ms, kAdvisorySilentSessionMs); }

}  // namespace wfq
