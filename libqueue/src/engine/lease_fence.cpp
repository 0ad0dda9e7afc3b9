#include "lease_fence.h"

#include <wfq/fencing.h>
#include <wfq/log.h>

#include <algorithm>
#include <climits>

namespace wfq::engine {

bool stop_for_lost_lease(Slot& slot, const char* why) {
    // A job whose outcome is being recorded is no longer running: the completer reports what
    // really happened.
    if (slot.shutting_down || slot.finishing || slot.lost.exchange(true)) return false;
    slot.cancel = true;
    log::Fields f = slot.fields;
    f.emplace_back("reason", why);
    log::warn("stopping the handler: its lease is gone", f);
    return true;
}

LeaseFence::LeaseFence(SlotTable& table, OutageMonitor& outage, Clock& clock, std::int64_t lease_ms,
                       std::int64_t heartbeat_ms, std::function<std::int64_t()> renewal_since_ns)
    : m_table(table), m_outage(outage), m_clock(clock), m_lease_ms(lease_ms),
      m_stall_ms(std::max<std::int64_t>(heartbeat_ms, 1000)), m_renewal_since_ns(std::move(renewal_since_ns)) {}

std::int64_t LeaseFence::deadline_ns(const Slot& slot) const {
    const std::int64_t until = slot.lease_until_ns.load();
    return until > 0 ? until - fence_margin_ms(m_lease_ms) * 1'000'000 : 0;
}

std::int64_t LeaseFence::check(std::int64_t now, const std::vector<std::shared_ptr<Slot>>& slots) {
    if (const std::int64_t since = m_renewal_since_ns ? m_renewal_since_ns() : 0;
        since > 0 && since != m_reported_since && now - since >= m_stall_ms * 1'000'000) {
        m_reported_since = since;
        m_outage.failed("lease keeper", "lease renewal has not answered for " + std::to_string((now - since) / 1'000'000) +
                                            " ms (the network may be cut)");
    }
    std::int64_t next = LLONG_MAX;
    for (const auto& s : slots) {
        const std::int64_t deadline = deadline_ns(*s);
        if (deadline == 0 || s->lost || s->finishing || s->shutting_down) continue;
        if (now >= deadline) stop_for_lost_lease(*s, "no renewal succeeded before the lease's local deadline (self-fencing)");
        else next = std::min(next, deadline);
    }
    return next;
}

void LeaseFence::run() {
    std::vector<std::shared_ptr<Slot>> slots;
    std::int64_t wait_ms = 0;
    while (m_table.fence_wait(wait_ms, slots)) {
        const std::int64_t now = m_clock.steady_ns();
        const std::int64_t next = check(now, slots);
        wait_ms = std::clamp<std::int64_t>((next - now) / 1'000'000 + 1, 1, kCheckEveryMs);
    }
}

}  // namespace wfq::engine
