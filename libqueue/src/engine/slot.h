#pragma once
// Internal: one claimed job's place in a worker, from claim until its outcome is recorded.
#include <wfq/job.h>
#include <wfq/log.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace wfq::engine {

struct Slot {
    JobRef ref;
    std::atomic<bool> cancel{false};         // the handler must stop
    std::atomic<bool> lost{false};           // the lease is gone (not renewed, taken over, cancelled)
    std::atomic<bool> shutting_down{false};  // the worker is stopping: give the job back
    std::atomic<bool> finishing{false};      // its outcome is with the completer
    // Steady time (ns) until which the lease is surely held: when the last renewal that
    // succeeded was sent, plus the lease length.
    std::atomic<std::int64_t> lease_until_ns{0};
    std::int64_t claim_start_ns = 0, claim_end_ns = 0;  // Unix time, for the claim span
    std::int64_t claimed_steady_ns = 0;
    std::atomic<bool> started{false};  // an executor runs it (not prefetched any more)
    bool marked_prefetched = false;    // the lease keeper's: the row says prefetched
    log::Fields fields;                // job_id, type, attempt, correlation_id, worker_id: set at claim
};

}  // namespace wfq::engine
