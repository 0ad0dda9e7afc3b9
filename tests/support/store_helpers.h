#pragma once
// Test helpers: one outcome recorded through Store::record_outcomes, the way the engine's
// completer records every outcome (the Store interface has no per-outcome calls).
#include <wfq/store.h>

#include <optional>
#include <string>
#include <vector>

namespace wfq::test {

// One attempt's spans as the completer packs them: one JSON array ("" for none).
inline std::string pack_spans(const std::vector<std::string>& spans) {
    if (spans.empty()) return "";
    std::string out = "[";
    for (std::size_t i = 0; i < spans.size(); ++i) out += (i ? "," : "") + spans[i];
    return out + "]";
}

// How many jobs are in state, counted as `wfq jobs cancel --state S --dry-run` counts them.
inline std::int64_t count_in_state(Store& store, JobState state) {
    BulkFilter f;
    f.states = {state};
    return store.count_matching(f);
}

// Records outcome alone; true when it was recorded (false: the lease was lost).
inline bool record(Store& store, const Outcome& outcome) {
    return store.record_outcomes({outcome}).at(0) == OutcomeStatus::recorded;
}

inline bool complete(Store& store, const JobRef& job, const std::optional<std::string>& result,
                     const std::vector<std::string>& spans = {}) {
    Outcome o;
    o.job = job;
    o.kind = Outcome::Kind::completed;
    o.result = result;
    o.spans = pack_spans(spans);
    return record(store, o);
}

// A retry after failure.retry_in_ms, or failed for good when it has none.
inline bool fail(Store& store, const JobRef& job, const Failure& failure, const std::vector<std::string>& spans = {}) {
    Outcome o;
    o.job = job;
    o.kind = failure.retry_in_ms ? Outcome::Kind::retry : Outcome::Kind::failed;
    o.error_class = failure.error_class;
    o.message = failure.message;
    o.delay_ms = failure.retry_in_ms.value_or(0);
    o.spans = pack_spans(spans);
    return record(store, o);
}

// Gives the job back without counting the attempt (a worker stopping).
inline bool release(Store& store, const JobRef& job, const std::string& reason) {
    Outcome o;
    o.job = job;
    o.kind = Outcome::Kind::released;
    o.message = reason;
    return record(store, o);
}

// Gives the job back without spending the attempt, runnable again after delay_ms.
inline bool defer(Store& store, const JobRef& job, std::int64_t delay_ms, const std::string& reason) {
    Outcome o;
    o.job = job;
    o.kind = Outcome::Kind::deferred;
    o.delay_ms = delay_ms;
    o.message = reason;
    return record(store, o);
}

}  // namespace wfq::test
