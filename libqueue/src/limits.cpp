#include <wfq/duration.h>
#include <wfq/limits.h>
#include <wfq/text.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace wfq {

namespace {
// A key as a message names it: its first 40 bytes, cut before a character that would not fit
// (the SQL API's wfq_limit_key_label() says the same).
std::string key_label(const std::string& k) {
    if (k.size() <= 40) return k;
    std::size_t n = 40;
    while (n > 0 && (static_cast<unsigned char>(k[n]) & 0xC0) == 0x80) --n;
    return k.substr(0, n) + "…";
}
}  // namespace

void check_limit_keys(const std::vector<std::string>& keys, ErrorCode code, const std::string& what) {
    if (keys.size() > kMaxLimitKeys)
        throw Error(code, what + ": a job names at most " + std::to_string(kMaxLimitKeys) + " limit keys (got " +
                              std::to_string(keys.size()) + ")");
    for (const auto& k : keys) check_name(what + " key '" + key_label(k) + "'", k, kMaxLimitKeyBytes, code);
}

std::vector<std::string> limit_keys_from_field(const nlohmann::json& value) {
    if (value.is_null()) return {};
    if (!value.is_array()) throw Error(ErrorCode::bad_input, "field 'limits' must be an array of strings");
    std::vector<std::string> keys;
    for (const auto& v : value) {
        if (!v.is_string()) throw Error(ErrorCode::bad_input, "field 'limits' must be an array of strings");
        keys.push_back(v.get<std::string>());
    }
    check_limit_keys(keys, ErrorCode::bad_input, "field 'limits'");
    return keys;
}

std::vector<std::string> effective_limit_keys(const std::vector<std::string>& limits,
                                              const std::optional<std::string>& lock_key) {
    std::vector<std::string> keys = limits;
    if (lock_key) keys.push_back(*lock_key);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

std::string limit_keys_to_json(const std::vector<std::string>& keys) { return nlohmann::json(keys).dump(); }

std::vector<std::string> limit_keys_from_json(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    std::vector<std::string> keys;
    if (j.is_array())
        for (const auto& v : j)
            if (v.is_string()) keys.push_back(v.get<std::string>());
    return keys;
}

void check_limit_pattern(const std::string& pattern) {
    if (pattern.empty()) throw Error(ErrorCode::usage, "PATTERN must not be empty (a key, or a prefix ending in '*')");
    auto star = pattern.find('*');
    if (star != std::string::npos && star != pattern.size() - 1)
        throw Error(ErrorCode::usage, "PATTERN '" + pattern + "': '*' may only end a prefix (such as 'org:*')");
    check_name("PATTERN", star == std::string::npos ? pattern : pattern.substr(0, star).empty() ? std::string("*") : pattern.substr(0, star),
               kMaxLimitKeyBytes, ErrorCode::usage);
}

std::pair<int, std::int64_t> parse_rate(const std::string& text) {
    auto bad = [&] {
        return Error(ErrorCode::usage, "--rate '" + text + "' is not N/DUR (such as 5000/1h or 10/1s: N starts per DUR)");
    };
    auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0) throw bad();
    std::string n_text = text.substr(0, slash), dur = text.substr(slash + 1);
    if (n_text.size() > 9 || !std::all_of(n_text.begin(), n_text.end(), [](char c) { return c >= '0' && c <= '9'; })) throw bad();
    int n = std::stoi(n_text);
    if (n < 1) throw Error(ErrorCode::usage, "--rate '" + text + "': N must be at least 1");
    if (dur == "ms" || dur == "s" || dur == "m" || dur == "h" || dur == "d") dur = "1" + dur;
    std::int64_t per_ms = 0;
    try {
        per_ms = parse_duration_ms(dur);
    } catch (const Error&) {
        throw bad();
    }
    if (per_ms < 1) throw bad();
    return {n, per_ms};
}

namespace {

// A whole number in [min, max] for flag, else Error(usage) naming it.
int count_flag(const std::string& flag, const std::string& value, int min, int max) {
    bool digits = !value.empty() && value.size() <= 9 &&
                  value.find_first_not_of("0123456789") == std::string::npos;
    int n = digits ? std::stoi(value) : -1;
    if (!digits || n < min || n > max)
        throw Error(ErrorCode::usage, flag + " '" + value + "' must be a whole number from " + std::to_string(min) + " to " +
                                          std::to_string(max));
    return n;
}

}  // namespace

LimitRule parse_limit_rule(const LimitRuleFlags& flags) {
    check_limit_pattern(flags.pattern);
    LimitRule rule;
    rule.pattern = flags.pattern;
    if (flags.concurrency) rule.concurrency = count_flag("--concurrency", *flags.concurrency, 0, 1000000);
    if (flags.rate) {
        auto [n, per_ms] = parse_rate(*flags.rate);
        rule.rate_n = n;
        rule.rate_per_ms = per_ms;
    }
    if (flags.burst) {
        if (!flags.rate) throw Error(ErrorCode::usage, "--burst needs --rate");
        rule.burst = count_flag("--burst", *flags.burst, 1, 1000000);
    }
    if (flags.weight) rule.weight = count_flag("--weight", *flags.weight, 1, 1000);
    if (!rule.concurrency && !rule.rate_n && !rule.weight)
        throw Error(ErrorCode::usage, "limits set needs --concurrency, --rate or --weight");
    return rule;
}

namespace {

// per_ms as parse_duration_ms reads it back exactly: "5s15ms" where the compact form would
// round or show a fraction ("5.015s", which --rate refuses).
std::string exact_duration(std::int64_t ms) {
    std::string shown = format_duration_ms(ms);
    try {
        if (parse_duration_ms(shown) == ms) return shown;
    } catch (const Error&) {
    }
    static const std::pair<std::int64_t, const char*> kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
    shown.clear();
    for (const auto& [unit, name] : kUnits)
        if (ms >= unit) {
            shown += std::to_string(ms / unit) + name;
            ms %= unit;
        }
    return shown.empty() ? "0ms" : shown;
}

}  // namespace

// What `limits list` and --json show is a rate `limits set --rate` takes back as the same rule.
std::string format_rate(int n, std::int64_t per_ms) { return std::to_string(n) + "/" + exact_duration(per_ms); }

bool pattern_matches(const std::string& pattern, const std::string& key) {
    if (!pattern.empty() && pattern.back() == '*')
        return key.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
    return pattern == key;
}

const LimitRule* rule_for_key(const std::vector<LimitRule>& rules, const std::string& key) {
    const LimitRule* best = nullptr;
    for (const auto& r : rules) {
        if (!pattern_matches(r.pattern, key)) continue;
        if (r.pattern == key) return &r;
        if (!best || r.pattern.size() > best->pattern.size()) best = &r;
    }
    return best;
}

int group_weight(const std::vector<LimitRule>& rules, const std::string& group) {
    const LimitRule* rule = rule_for_key(rules, "group:" + group);
    return rule && rule->weight ? std::max(1, *rule->weight) : 1;
}

std::optional<int> concurrency_cap(const LimitRule* rule, const std::string& key, const std::optional<std::string>& lock_key) {
    std::optional<int> cap;
    if (rule && rule->concurrency) cap = *rule->concurrency;
    if (lock_key && *lock_key == key) cap = std::min(cap.value_or(1), 1);
    return cap;
}

double tokens_at(const LimitRule& rule, std::optional<double> tokens, std::optional<TimeMs> refilled_at, TimeMs now) {
    const double burst = std::max(1, rule.burst);
    if (!tokens || !refilled_at || !rule.rate_n || !rule.rate_per_ms) return burst;
    const double elapsed = static_cast<double>(std::max<std::int64_t>(0, now - *refilled_at));
    return std::min(burst, *tokens + elapsed * *rule.rate_n / static_cast<double>(*rule.rate_per_ms));
}

TimeMs next_token_at(const LimitRule& rule, double tokens, TimeMs now) {
    if (tokens >= 1 || !rule.rate_n || !rule.rate_per_ms) return now;
    return now + static_cast<TimeMs>(std::ceil((1.0 - tokens) * static_cast<double>(*rule.rate_per_ms) / *rule.rate_n));
}

}  // namespace wfq
