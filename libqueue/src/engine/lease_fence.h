#pragma once
// Internal: self-fencing of a worker's job leases. On a thread of its own that never calls the
// database, the fence stops every handler whose lease's local deadline (the start of its last
// successful renewal + lease - fence_margin_ms) has passed: a silent network partition blocks
// the lease keeper's renewal, it does not fail it. It also says when a renewal stops answering,
// so the outage is logged when it starts, not when a timeout finally fires.
#include "outage.h"
#include "slot.h"
#include "slot_table.h"

#include <wfq/clock.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wfq::engine {

// Marks slot's lease lost and tells its handler to stop (false: it is finishing or already
// stopped). Shared by the fence and the lease keeper.
bool stop_for_lost_lease(Slot& slot, const char* why);

class LeaseFence {
public:
    // renewal_since_ns: the steady time at which the renewal now in flight was sent, 0 if none.
    LeaseFence(SlotTable& table, OutageMonitor& outage, Clock& clock, std::int64_t lease_ms, std::int64_t heartbeat_ms,
               std::function<std::int64_t()> renewal_since_ns);
    // Checks until the worker closes and holds no job.
    void run();
    // One check at now_ns (steady): stops the handlers past their deadline and reports a renewal
    // that has not answered for a heartbeat period. Returns the next deadline (steady ns).
    std::int64_t check(std::int64_t now_ns, const std::vector<std::shared_ptr<Slot>>& slots);
    // The local deadline of slot's lease (steady ns), 0 while it has none.
    std::int64_t deadline_ns(const Slot& slot) const;

    // Checked at least this often, so a job claimed meanwhile is watched on time.
    static constexpr std::int64_t kCheckEveryMs = 50;

private:
    SlotTable& m_table;
    OutageMonitor& m_outage;
    Clock& m_clock;
    std::int64_t m_lease_ms, m_stall_ms;
    std::function<std::int64_t()> m_renewal_since_ns;
    std::int64_t m_reported_since = 0;  // the stalled renewal already reported (logged once)
};

}  // namespace wfq::engine
