#include "lease_keeper.h"

#include <wfq/errors.h>
#include <wfq/log.h>

#include <algorithm>
#include <set>

namespace wfq::engine {

LeaseKeeper::LeaseKeeper(Store& store, SlotTable& table, OutageMonitor& outage, Clock& clock, std::int64_t lease_ms,
                         std::int64_t heartbeat_ms, std::string worker_id, std::function<std::string()> stats)
    : m_store(store), m_table(table), m_outage(outage), m_clock(clock), m_lease_ms(lease_ms), m_heartbeat_ms(heartbeat_ms),
      m_worker_id(std::move(worker_id)), m_stats(std::move(stats)) {}

void LeaseKeeper::run() {
    std::vector<std::shared_ptr<Slot>> slots;
    std::int64_t next = m_clock.steady_ns() / 1'000'000;
    while (m_table.keeper_wait(next - m_clock.steady_ns() / 1'000'000, slots)) next = pass(m_clock.steady_ns() / 1'000'000, slots);
}

std::int64_t LeaseKeeper::pass(std::int64_t now, const std::vector<std::shared_ptr<Slot>>& slots) {
    if (now >= m_next_prefetch) {
        // With no job held, looked at again in a second: a job claimed meanwhile is marked on time.
        m_next_prefetch = now + kPrefetchMarkMs;
        if (!slots.empty() && !m_outage.in_outage()) {
            try {
                mark_prefetched(slots, kPrefetchMarkMs);
            } catch (const std::exception& e) {
                log::warn(std::string("could not mark prefetched jobs: ") + e.what(), {{"worker_id", m_worker_id}});
            }
        }
    }
    if (m_table.take_renewal_request()) m_next_beat = now;  // a cancelled job's renewal fails: its handler stops
    if (now >= m_next_beat) {
        m_next_beat = now + m_heartbeat_ms;
        bool reachable = false;
        try {
            reachable = renew(slots);
        } catch (const std::exception& e) {
            log::warn(std::string("lease renewal failed: ") + e.what(), {{"worker_id", m_worker_id}});
        }
        if (reachable) {
            try {
                m_store.heartbeat(m_worker_id, static_cast<int>(slots.size()), m_stats ? m_stats() : std::string("{}"));
            } catch (const std::exception& e) {
                log::warn(std::string("heartbeat failed: ") + e.what(), {{"worker_id", m_worker_id}});
            }
        } else {
            // During an outage the renewal is retried sooner than a heartbeat.
            m_next_beat = now + std::min<std::int64_t>(m_heartbeat_ms, 500);
        }
    }
    return std::min(m_next_beat, m_next_prefetch);
}

bool LeaseKeeper::renew(const std::vector<std::shared_ptr<Slot>>& slots) {
    if (slots.empty()) return true;
    std::vector<JobRef> refs;
    refs.reserve(slots.size());
    for (const auto& s : slots)
        if (!s->lost) refs.push_back(s->ref);  // a fenced job is left for rescue: never renewed again
    if (refs.empty()) return true;
    const std::int64_t sent_ns = m_clock.steady_ns();
    m_renewal_since_ns = sent_ns;
    struct Done {
        std::atomic<std::int64_t>& since;
        ~Done() { since = 0; }
    } done{m_renewal_since_ns};
    try {
        auto lost = m_store.renew_leases(refs, m_lease_ms);
        m_outage.ok();
        std::set<std::int64_t> gone(lost.begin(), lost.end());
        for (const auto& s : slots) {
            if (gone.count(s->ref.id)) stop_for_lost_lease(*s, "lease lost (rescued, cancelled or taken over)");
            else if (!s->lost) s->lease_until_ns = sent_ns + m_lease_ms * 1'000'000;
        }
        return true;
    } catch (const Error& e) {
        if (e.code() != ErrorCode::db_unavailable) throw;
        m_outage.failed("lease keeper", e.what());
        const std::int64_t now = m_clock.steady_ns();
        for (const auto& s : slots)
            if (s->lease_until_ns > 0 && now >= s->lease_until_ns) stop_for_lost_lease(*s, "lease expired while the database was unreachable");
        return false;
    }
}

void LeaseKeeper::mark_prefetched(const std::vector<std::shared_ptr<Slot>>& slots, std::int64_t after_ms) {
    const std::int64_t now = m_clock.steady_ns();
    std::vector<JobRef> mark, unmark;
    std::vector<Slot*> marked, unmarked;
    for (const auto& s : slots) {
        if (s->finishing || s->lost) continue;
        if (s->started) {
            if (s->marked_prefetched) {
                unmark.push_back(s->ref);
                unmarked.push_back(s.get());
            }
        } else if (!s->marked_prefetched && now - s->claimed_steady_ns >= after_ms * 1'000'000) {
            mark.push_back(s->ref);
            marked.push_back(s.get());
        }
    }
    try {
        if (!mark.empty()) m_store.set_prefetched(mark, true);
        for (auto* s : marked) s->marked_prefetched = true;
        if (!unmark.empty()) m_store.set_prefetched(unmark, false);
        for (auto* s : unmarked) s->marked_prefetched = false;
    } catch (const Error& e) {
        if (e.code() != ErrorCode::db_unavailable) throw;
        m_outage.failed("lease keeper", e.what());  // tried again at the next pass
    }
}

}  // namespace wfq::engine
