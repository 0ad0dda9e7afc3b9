#pragma once
// Internal: the lease keeper renews the leases of every job a worker holds, on a connection of
// its own and a timer of its own so renewals never wait behind claims, completions or
// maintenance, and stops a handler whose lease is lost or could not be renewed before it
// expired. It also publishes the heartbeat and marks the jobs waiting for a free handler as
// prefetched.
#include "lease_fence.h"
#include "outage.h"
#include "slot.h"
#include "slot_table.h"

#include <wfq/store.h>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace wfq::engine {

class LeaseKeeper {
public:
    // stats: the document the heartbeat stores (see Reporter::stats_json).
    LeaseKeeper(Store& store, SlotTable& table, OutageMonitor& outage, Clock& clock, std::int64_t lease_ms,
                std::int64_t heartbeat_ms, std::string worker_id, std::function<std::string()> stats);
    // Renews every heartbeat_ms (at once when an operator cancels a running job) until the
    // worker closes and holds no job.
    void run();
    // One pass at now_ms (steady): the renewal and heartbeat when due, and prefetched marks.
    // Returns when the next pass is due.
    std::int64_t pass(std::int64_t now_ms, const std::vector<std::shared_ptr<Slot>>& slots);
    // One renewal of these slots' leases. Returns false when the database could not be reached
    // (slots whose lease ran out meanwhile are stopped).
    bool renew(const std::vector<std::shared_ptr<Slot>>& slots);
    // Tells the database which jobs wait in this worker for a free handler (claimed at least
    // after_ms ago, not started) and which of those a handler now runs, so that `why`, `jobs
    // list` and `top` show them apart from running ones. Writes only when that changed.
    void mark_prefetched(const std::vector<std::shared_ptr<Slot>>& slots, std::int64_t after_ms);

    // Jobs waiting here for a free handler are marked prefetched after a second (a busy worker's
    // jobs wait for milliseconds: no write), checked each second.
    static constexpr std::int64_t kPrefetchMarkMs = 1000;

    // When the renewal now in flight was sent (steady ns), 0 when none is: the fence reports a
    // renewal that stops answering.
    std::int64_t renewal_since_ns() const { return m_renewal_since_ns.load(); }

private:

    Store& m_store;
    SlotTable& m_table;
    OutageMonitor& m_outage;
    Clock& m_clock;
    std::int64_t m_lease_ms, m_heartbeat_ms;
    std::string m_worker_id;
    std::function<std::string()> m_stats;
    std::int64_t m_next_beat = 0, m_next_prefetch = 0;
    std::atomic<std::int64_t> m_renewal_since_ns{0};
};

}  // namespace wfq::engine
