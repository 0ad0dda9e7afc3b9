#include <wfq/backoff.h>
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/retry.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace wfq {

std::int64_t BackoffPolicy::capped_ms(int attempt) const {
    double raw = multiplier == 1.0 ? static_cast<double>(base_ms) * (attempt + 1)
                                   : static_cast<double>(base_ms) * std::pow(multiplier, attempt);
    double capped = std::min(raw, static_cast<double>(max_ms));
    return static_cast<std::int64_t>(std::floor(capped));
}

std::int64_t BackoffPolicy::delay_ms(int attempt, double u) const {
    double capped = static_cast<double>(capped_ms(attempt));
    double d = std::floor(capped + capped * jitter * u);
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(d));
}

std::int64_t BackoffPolicy::delay_ms(int attempt, Random& random) const {
    return delay_ms(attempt, random.uniform() * 2.0 - 1.0);
}

void BackoffPolicy::validate() const {
    if (base_ms < 1) throw Error(ErrorCode::usage, "backoff base must be at least 1ms");
    if (max_ms < base_ms) throw Error(ErrorCode::usage, "backoff max must be at least the base");
    if (!(jitter >= 0.0 && jitter <= 1.0)) throw Error(ErrorCode::usage, "backoff jitter must be between 0 and 1");
    if (!(multiplier >= 1.0 && multiplier <= 100.0)) throw Error(ErrorCode::usage, "backoff multiplier must be between 1 and 100");
}

namespace {
struct Preset {
    const char* name;
    BackoffPolicy policy;
};
const Preset kPresets[] = {
    {"FAST", {100, 3200, 0.25, 2}},          {"STANDARD", {1000, 30000, 0.25, 2}},
    {"AGGRESSIVE", {500, 15000, 0.25, 2}},   {"CONSERVATIVE", {2000, 60000, 0.25, 3}},
    {"LINEAR", {5000, 30000, 0.1, 1}},       {"HEAVY_TASK", {5000, 60000, 0.1, 1}},
};
}  // namespace

std::optional<BackoffPolicy> backoff_preset(const std::string& name) {
    std::string upper;
    for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const auto& p : kPresets)
        if (upper == p.name) return p.policy;
    return std::nullopt;
}

const std::vector<std::string>& backoff_preset_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& p : kPresets) v.emplace_back(p.name);
        return v;
    }();
    return names;
}

std::vector<BackoffStep> backoff_schedule(const BackoffPolicy& policy, int attempts, Random* random) {
    std::vector<BackoffStep> steps;
    for (int a = 0; a < attempts; ++a) {
        BackoffStep s{a + 1, policy.capped_ms(a), policy.delay_ms(a, -1.0), policy.delay_ms(a, 1.0), std::nullopt};
        if (random) s.sample_ms = policy.delay_ms(a, *random);
        steps.push_back(s);
    }
    return steps;
}

const RetryPolicy& default_db_retry_policy() {
    static const RetryPolicy policy = [] {
        RetryPolicy p;
        if (const char* v = std::getenv("WFQ_DB_RETRIES"); v && *v) p.max_attempts = std::max(1, std::atoi(v));
        return p;
    }();
    return policy;
}

}  // namespace wfq
