// `wfq limits set PATTERN --concurrency --rate --burst --weight` and --limit keys as typed: a
// checked rule or Error(usage); a rule's numbers are in range, its rate prints as a --rate that
// reads back as the same rate, its token bucket never runs beyond its burst, and it matches the
// keys its pattern names.
// Input: PATTERN\nCONCURRENCY\nRATE\nBURST\nWEIGHT\nKEY,KEY... (a part "\x01" is a flag not given).
#include "fuzz_util.h"

#include <wfq/errors.h>
#include <wfq/limits.h>

#include <limits>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    auto parts = fuzz::split(fuzz::as_text(data, size), '\n', 6);
    parts.resize(6, "\x01");
    auto flag = [&](std::size_t i) -> std::optional<std::string> {
        if (parts[i] == "\x01") return std::nullopt;
        return parts[i];
    };
    std::vector<std::string> keys = fuzz::split(parts[5], ',', 16);
    try {
        check_limit_keys(keys, ErrorCode::usage, "--limit");
        FUZZ_CHECK(keys.size() <= kMaxLimitKeys, parts[5]);
        for (const auto& k : keys) FUZZ_CHECK(!k.empty() && k.size() <= kMaxLimitKeyBytes, k);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::usage, e.what());
    }
    LimitRule rule;
    try {
        rule = parse_limit_rule({parts[0], flag(1), flag(2), flag(3), flag(4)});
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::usage, e.what());
        return 0;
    }
    FUZZ_CHECK(rule.concurrency || rule.rate_n || rule.weight, parts[0]);
    if (rule.concurrency) FUZZ_CHECK(*rule.concurrency >= 0 && *rule.concurrency <= 1000000, parts[1]);
    if (rule.weight) FUZZ_CHECK(*rule.weight >= 1 && *rule.weight <= 1000, parts[4]);
    FUZZ_CHECK(rule.burst >= 1 && rule.burst <= 1000000, parts[3]);
    FUZZ_CHECK(rule.rate_n.has_value() == rule.rate_per_ms.has_value(), parts[2]);
    if (rule.rate_n) {
        FUZZ_CHECK(*rule.rate_n >= 1 && *rule.rate_per_ms >= 1, parts[2]);
        // What `limits list` shows is a rate `limits set` takes back as the same rate.
        const std::string shown = format_rate(*rule.rate_n, *rule.rate_per_ms);
        auto [n, per_ms] = parse_rate(shown);
        FUZZ_CHECK(n == *rule.rate_n && per_ms == *rule.rate_per_ms, parts[2] + " -> " + shown);
        // The bucket: full when unseen, never above burst, the next token in the future or now.
        const TimeMs now = 1'800'000'000'000;
        const double full = tokens_at(rule, std::nullopt, std::nullopt, now);
        FUZZ_CHECK(full == rule.burst, parts[3]);
        const double later = tokens_at(rule, 0.0, now, std::numeric_limits<TimeMs>::max() / 4);
        FUZZ_CHECK(later >= 0 && later <= rule.burst, parts[2]);
        const TimeMs next = next_token_at(rule, 0.0, now);
        FUZZ_CHECK(next > now && next - now <= *rule.rate_per_ms, parts[2]);
    }
    // A pattern matches the key it names (a prefix pattern: the prefix itself).
    std::string key = rule.pattern;
    if (key.back() == '*') key.pop_back();
    if (rule.pattern.back() == '*') FUZZ_CHECK(pattern_matches(rule.pattern, key + "x"), rule.pattern);
    FUZZ_CHECK(pattern_matches(rule.pattern, key), rule.pattern);
    std::vector<LimitRule> rules{rule};
    FUZZ_CHECK(rule_for_key(rules, key) == &rules[0], rule.pattern);
    return 0;
}
