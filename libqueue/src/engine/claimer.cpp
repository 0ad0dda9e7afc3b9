#include "claimer.h"

#include <algorithm>

namespace wfq::engine {

Claimer::Claimer(Claim claim, int concurrency, int prefetch)
    : m_claim(std::move(claim)), m_concurrency(std::max(1, concurrency)), m_prefetch(std::max(0, prefetch)) {}

int Claimer::limit(int running, int waiting) const {
    if (running >= m_concurrency) return 0;  // no executor free: prefetched jobs would only wait
    return std::max(0, m_concurrency + m_prefetch - running - waiting);
}

std::vector<Job> Claimer::claim(int n, bool& full) {
    full = false;
    if (n <= 0) return {};
    auto jobs = m_claim(n);
    full = static_cast<int>(jobs.size()) >= n;
    return jobs;
}

}  // namespace wfq::engine
