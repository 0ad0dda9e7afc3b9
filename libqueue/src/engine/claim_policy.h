#pragma once
// Internal: how many jobs the claimer asks for: as many as there are free executor slots, plus
// a small prefetch so that a finishing handler finds its next job waiting. At most
// `prefetch` jobs ever wait claimed and idle. While claimed jobs still wait, the next claim
// waits until half the capacity (concurrency + prefetch) is free, so claims come in batches
// rather than one per finished job.
#include <cstdint>

namespace wfq::engine {

class ClaimPolicy {
public:
    // prefetch < 0: adaptive (see observe), starting from min(concurrency, 16).
    ClaimPolicy(int concurrency, int prefetch);
    // How many jobs to ask for with running handlers busy and waiting jobs already claimed.
    int limit(int running, int waiting) const;
    // A handler ran for run_ns. With an adaptive prefetch, the claimer keeps as many jobs
    // waiting as the executors get through in about kPrefetchWaitNs (never fewer than the
    // starting prefetch, never more than kMaxPrefetch): fast handlers get big batches (a claim
    // and a commit per batch, not per few jobs), slow ones a small prefetch, so no job sits
    // claimed and idle for long while another worker could run it.
    void observe(std::int64_t run_ns);
    int prefetch() const { return m_prefetch; }

    static constexpr std::int64_t kPrefetchWaitNs = 5'000'000;
    static constexpr int kMaxPrefetch = 500;

private:
    int m_concurrency, m_prefetch;
    int m_base_prefetch;  // the starting (and least) prefetch when adaptive
    bool m_adaptive;
    double m_avg_run_ns = -1;  // moving average of handler run times
};

}  // namespace wfq::engine
