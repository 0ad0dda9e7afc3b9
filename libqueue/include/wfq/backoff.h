#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wfq {

class Random;

// Exponential (or linear, when multiplier == 1) backoff with symmetric jitter, per DESIGN.md.
struct BackoffPolicy {
    std::int64_t base_ms = 1000;
    std::int64_t max_ms = 30000;
    double jitter = 0.25;
    double multiplier = 2.0;

    // Un-jittered, capped delay before retry number attempt+1 (attempt counts from 0).
    std::int64_t capped_ms(int attempt) const;
    // Delay with jitter factor u in [-1, 1]; floor, at least 1 ms.
    std::int64_t delay_ms(int attempt, double u) const;
    // Delay with u drawn from random.
    std::int64_t delay_ms(int attempt, Random& random) const;
    // Throws Error(usage) when a field is out of range.
    void validate() const;
};

// Case-insensitive preset lookup (FAST, STANDARD, ...); nullopt when unknown.
std::optional<BackoffPolicy> backoff_preset(const std::string& name);
// Preset names in the order of DESIGN.md's table.
const std::vector<std::string>& backoff_preset_names();

struct BackoffStep {
    int retry;  // 1-based
    std::int64_t delay_ms, min_ms, max_ms;
    std::optional<std::int64_t> sample_ms;
};

// The schedule `wfq backoff preview` prints; samples are drawn only when random is given.
std::vector<BackoffStep> backoff_schedule(const BackoffPolicy& policy, int attempts, Random* random);

}  // namespace wfq
