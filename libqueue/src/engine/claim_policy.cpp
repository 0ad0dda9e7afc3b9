#include "claim_policy.h"

#include <algorithm>

namespace wfq::engine {

ClaimPolicy::ClaimPolicy(int concurrency, int prefetch)
    : m_concurrency(std::max(1, concurrency)),
      m_prefetch(prefetch < 0 ? std::min(m_concurrency, 16) : prefetch),
      m_base_prefetch(m_prefetch),
      m_adaptive(prefetch < 0) {}

void ClaimPolicy::observe(std::int64_t run_ns) {
    if (!m_adaptive) return;
    const double ns = static_cast<double>(std::max<std::int64_t>(run_ns, 1000));  // a wake-up costs about 1 us anyway
    m_avg_run_ns = m_avg_run_ns < 0 ? ns : m_avg_run_ns * 0.9 + ns * 0.1;
    // Jobs the executors finish in kPrefetchWaitNs at this pace.
    const double through = static_cast<double>(m_concurrency) * static_cast<double>(kPrefetchWaitNs) / m_avg_run_ns;
    m_prefetch = static_cast<int>(std::clamp<double>(through, m_base_prefetch, kMaxPrefetch));
}

int ClaimPolicy::limit(int running, int waiting) const {
    if (running >= m_concurrency) return 0;  // no executor free: prefetched jobs would only wait
    const int capacity = m_concurrency + m_prefetch;
    const int want = std::max(0, capacity - running - waiting);
    // While claimed jobs still wait for an executor, nobody starves: claim when half the
    // capacity is free, not for every slot that frees (a claim per job would cost a
    // transaction per job).
    if (waiting > 0 && want < (capacity + 1) / 2) return 0;
    return want;
}

}  // namespace wfq::engine
