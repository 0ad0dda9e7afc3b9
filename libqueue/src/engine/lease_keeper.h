#pragma once
// Internal: the lease keeper renews the leases of every job a worker holds, on a connection of
// its own so renewals never wait behind claims and completions, and stops a handler whose
// lease is lost or could not be renewed before it expired. It also publishes the heartbeat.
#include "outage.h"
#include "slot.h"

#include <wfq/store.h>

#include <memory>
#include <vector>

namespace wfq::engine {

class LeaseKeeper {
public:
    LeaseKeeper(Store& store, OutageMonitor& outage, Clock& clock, std::int64_t lease_ms, std::string worker_id);
    // One renewal of these slots' leases. Returns false when the database could not be reached
    // (slots whose lease ran out meanwhile are stopped).
    bool renew(const std::vector<std::shared_ptr<Slot>>& slots);
    // Tells the database which jobs wait in this worker for a free handler (claimed at least
    // after_ms ago, not started) and which of those a handler now runs, so that `why`, `jobs
    // list` and `top` show them apart from running ones. Writes only when that changed.
    void mark_prefetched(const std::vector<std::shared_ptr<Slot>>& slots, std::int64_t after_ms);

private:
    void stop_slot(Slot& slot, const char* why);

    Store& m_store;
    OutageMonitor& m_outage;
    Clock& m_clock;
    std::int64_t m_lease_ms;
    std::string m_worker_id;
};

}  // namespace wfq::engine
