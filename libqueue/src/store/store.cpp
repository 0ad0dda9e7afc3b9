// Store's non-virtual conveniences, built on its interface.
#include <wfq/store.h>

namespace wfq {

bool Store::complete(const JobRef& job, const std::optional<std::string>& result, const std::vector<std::string>& spans) {
    Outcome o;
    o.job = job;
    o.kind = Outcome::Kind::completed;
    o.result = result;
    if (!spans.empty()) {  // one JSON array of the attempt's spans
        o.spans = "[";
        for (std::size_t i = 0; i < spans.size(); ++i) o.spans += (i ? "," : "") + spans[i];
        o.spans += "]";
    }
    return record_outcomes({o}).at(0) == OutcomeStatus::recorded;
}

}  // namespace wfq
