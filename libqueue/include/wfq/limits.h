#pragma once
// Flow control (DESIGN.md "Flow control"): limit keys and the rules that limit them. The checks
// of keys, patterns and rates live here, once, for the CLI, NDJSON lines and the store.
#include <wfq/clock.h>
#include <wfq/errors.h>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wfq {

constexpr std::size_t kMaxLimitKeys = 8;
constexpr std::size_t kMaxLimitKeyBytes = 200;
constexpr std::size_t kMaxGroupBytes = 200;  // a group (--group) is a name as a limit key is

// One rule of `wfq limits set PATTERN`: PATTERN is a key or a prefix ending in '*'.
struct LimitRule {
    std::string pattern;
    std::optional<int> concurrency;           // running jobs per key
    std::optional<int> rate_n;                // starts per rate_per_ms per key ...
    std::optional<std::int64_t> rate_per_ms;  // ... from a bucket of burst tokens
    int burst = 1;
    std::optional<int> weight;  // group turns per round (group:G rules)
    TimeMs updated_at = 0;
};

// What a rule holds now, per key it matches (`wfq limits list`).
struct LimitKeyUsage {
    std::string key;
    std::int64_t admitted = 0;  // jobs holding a slot: running, or admitted and about to run
    std::int64_t running = 0;
    std::int64_t held = 0;  // pending jobs held back waiting for this key
    std::optional<double> tokens;
    std::optional<TimeMs> wake_at;  // when its held-back jobs are looked at again (rate)
};
struct LimitRuleUsage {
    LimitRule rule;
    std::vector<LimitKeyUsage> keys;
};

// A job's limit keys: at most kMaxLimitKeys, each a name of at most kMaxLimitKeyBytes. Throws
// Error(code) naming what (a flag such as "--limit", or "field 'limits'").
void check_limit_keys(const std::vector<std::string>& keys, ErrorCode code, const std::string& what);
// The NDJSON (and SQL API) field "limits": an array of strings, checked as above with
// Error(bad_input) naming the field.
std::vector<std::string> limit_keys_from_field(const nlohmann::json& value);
// The keys a job is limited by: its limits and its lock key, sorted and distinct (the order in
// which every transaction visits them).
std::vector<std::string> effective_limit_keys(const std::vector<std::string>& limits,
                                              const std::optional<std::string>& lock_key);
std::string limit_keys_to_json(const std::vector<std::string>& keys);
std::vector<std::string> limit_keys_from_json(const std::string& text);

// Checks PATTERN (a key, or a prefix ending in '*'); Error(usage) naming it.
void check_limit_pattern(const std::string& pattern);
// "N/DUR" ("5000/1h", "10/s"): N starts per DUR. Error(usage) naming --rate.
std::pair<int, std::int64_t> parse_rate(const std::string& text);
// The flags of `wfq limits set PATTERN` as typed, checked and read into a rule (Error(usage)
// naming the flag): --concurrency 0..1000000, --rate N/DUR, --burst 1..1000000 (needs --rate),
// --weight 1..1000; at least one of concurrency, rate and weight.
struct LimitRuleFlags {
    std::string pattern;
    std::optional<std::string> concurrency, rate, burst, weight;
};
LimitRule parse_limit_rule(const LimitRuleFlags& flags);
std::string format_rate(int n, std::int64_t per_ms);
bool pattern_matches(const std::string& pattern, const std::string& key);
// The rule for key: an exact pattern first, then the longest matching prefix; nullptr for none.
const LimitRule* rule_for_key(const std::vector<LimitRule>& rules, const std::string& key);
// How many running jobs may hold key for a job with that lock key: the rule's concurrency, and
// at most 1 when key is the job's lock key. nullopt: no cap.
std::optional<int> concurrency_cap(const LimitRule* rule, const std::string& key, const std::optional<std::string>& lock_key);
// A token bucket's tokens at now (a bucket never seen is full), and when the next whole token
// is there.
double tokens_at(const LimitRule& rule, std::optional<double> tokens, std::optional<TimeMs> refilled_at, TimeMs now);
TimeMs next_token_at(const LimitRule& rule, double tokens, TimeMs now);
// Group turns per round for group G: the weight of the rule for key "group:G" (exact, then the
// longest prefix, as for limit keys), 1 without one or when that rule sets no weight.
int group_weight(const std::vector<LimitRule>& rules, const std::string& group);

}  // namespace wfq
