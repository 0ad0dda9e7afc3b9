#pragma once
// Internal: the claimer asks for batches of due jobs: as many as there are free executor
// slots, plus a small prefetch so that a finishing handler finds its next job waiting. At most
// `prefetch` jobs ever wait claimed and idle. A batch that comes back full is followed by
// another claim at once.
#include <wfq/job.h>

#include <functional>
#include <vector>

namespace wfq::engine {

class Claimer {
public:
    using Claim = std::function<std::vector<Job>(int limit)>;
    Claimer(Claim claim, int concurrency, int prefetch);
    // How many jobs to ask for with running handlers busy and waiting jobs already claimed.
    int limit(int running, int waiting) const;
    // Claims up to n jobs (n from limit(), reserved by the caller); full is set when the batch
    // came back full.
    std::vector<Job> claim(int n, bool& full);

private:
    Claim m_claim;
    int m_concurrency, m_prefetch;
};

}  // namespace wfq::engine
