// Flow control: rules, what they hold now, and the admission of held-back jobs.
//
// A job with limit keys is stored held back (held = 1, held_by = one of its keys). Admission
// gives it its slots: when each of its keys has room (concurrency: fewer admitted jobs than the
// cap; rate: a token left), held goes to 0 and a trigger inserts one job_limits row per key.
// Another trigger deletes them, and notes the keys in limit_freed, whenever the job stops
// holding them (finished, failed, cancelled, parked, rescued or retried: every path, in its own
// transaction). Admission runs in claims (claim_limited), for the keys in limit_freed and those
// whose wake-up time came, looking at each key's first held-back jobs only: a key's jobs take
// their turns by priority, then in the order they were enqueued (a rescued or retried job keeps
// its place), those not yet due passed over.
#include "sql_store.h"

#include "sql_text.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

namespace wfq::store {
namespace {

constexpr const char* kRuleColumns = "pattern, concurrency, rate_n, rate_per_ms, burst, weight, updated_at";
constexpr int kKeysPerPass = 200;   // keys one admission pass looks at; the rest wait for the next
constexpr int kHeadsPerKey = 64;    // held-back jobs one pass looks at per key

// Keys as a JSON array of {"key": K}, for json_rows("$1", {{"key", "text"}}).
std::string key_array(const std::vector<std::string>& keys) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& k : keys) a.push_back({{"key", k}});
    return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

LimitRule rule_from_row(const Row& r) {
    LimitRule rule;
    rule.pattern = r.str(0);
    if (auto v = r.opt_i64(1)) rule.concurrency = static_cast<int>(*v);
    if (auto v = r.opt_i64(2)) rule.rate_n = static_cast<int>(*v);
    rule.rate_per_ms = r.opt_i64(3);
    rule.burst = static_cast<int>(r.i64(4));
    if (auto v = r.opt_i64(5)) rule.weight = static_cast<int>(*v);
    rule.updated_at = r.i64(6);
    return rule;
}

}  // namespace

std::vector<LimitRule> SqlStore::load_rules() {
    std::vector<LimitRule> rules;
    for (const auto& r : m_db->exec(std::string("SELECT ") + kRuleColumns + " FROM limit_rules ORDER BY pattern"))
        rules.push_back(rule_from_row(r));
    return rules;
}

std::vector<LimitRule> SqlStore::limit_rules() {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    return retry([&] { return load_rules(); }, default_db_retry_policy());
}

void SqlStore::release_held_matching(const std::string& pattern) {
    // The next admission pass looks again at every key the pattern matches.
    for (const auto& r : m_db->exec("SELECT DISTINCT held_by FROM jobs WHERE state = 'pending' AND held = 1"))
        if (!r.is_null(0) && pattern_matches(pattern, r.str(0))) m_db->exec("INSERT INTO limit_freed (key) VALUES ($1)", {r.str(0)});
    m_db->notify_enqueued("");
    m_limits_active = true;
    m_group_rules_ns.reset();  // this process's next enqueue reads the weights again
}

void SqlStore::limit_set(const LimitRule& rule) {
    transact("limits", [&] {
        m_db->exec("INSERT INTO limit_rules (pattern, concurrency, rate_n, rate_per_ms, burst, weight, updated_at) "
                   "VALUES ($1, $2, $3, $4, $5, $6, wfq_now_ms()) ON CONFLICT (pattern) DO UPDATE SET "
                   "concurrency = excluded.concurrency, rate_n = excluded.rate_n, rate_per_ms = excluded.rate_per_ms, "
                   "burst = excluded.burst, weight = excluded.weight, updated_at = excluded.updated_at",
                   {rule.pattern, rule.concurrency ? Param(std::int64_t(*rule.concurrency)) : Param(nullptr),
                    rule.rate_n ? Param(std::int64_t(*rule.rate_n)) : Param(nullptr), opt(rule.rate_per_ms),
                    std::int64_t(rule.burst), rule.weight ? Param(std::int64_t(*rule.weight)) : Param(nullptr)});
        release_held_matching(rule.pattern);
    });
}

bool SqlStore::limit_remove(const std::string& pattern) {
    return transact("limits", [&] {
        bool removed = !m_db->exec("DELETE FROM limit_rules WHERE pattern = $1 RETURNING pattern", {pattern}).empty();
        if (removed) release_held_matching(pattern);
        return removed;
    });
}

LimitKeyUsage SqlStore::limit_key_usage(const std::string& key) {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    return retry(
        [&] {
            LimitKeyUsage u;
            u.key = key;
            auto row = m_db->exec("SELECT (SELECT COUNT(*) FROM job_limits WHERE key = $1), "
                                  "(SELECT COUNT(*) FROM job_limits l JOIN jobs j ON j.id = l.job_id WHERE l.key = $1 AND "
                                  "j.state = 'running'), "
                                  "(SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND held = 1 AND held_by = $1), "
                                  "(SELECT tokens FROM limit_state WHERE key = $1), (SELECT refilled_at FROM limit_state WHERE key = $1), "
                                  "(SELECT wake_at FROM limit_state WHERE key = $1)",
                                  {key})
                           .at(0);
            u.admitted = row.i64(0);
            u.running = row.i64(1);
            u.held = row.i64(2);
            if (!row.is_null(3)) {
                std::vector<LimitRule> rules = load_rules();
                if (const LimitRule* rule = rule_for_key(rules, key); rule && rule->rate_n)
                    u.tokens = tokens_at(*rule, std::stod(row.str(3)), row.opt_i64(4), m_db->exec("SELECT wfq_now_ms()").at(0).i64(0));
            }
            u.wake_at = row.opt_i64(5);
            return u;
        },
        default_db_retry_policy());
}

std::vector<LimitRuleUsage> SqlStore::limit_usage() {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    return retry(
        [&] {
            std::vector<LimitRule> rules = load_rules();
            std::map<std::string, LimitKeyUsage> keys;
            // Keys with admitted jobs, keys with held-back jobs, keys with a bucket: each a small
            // set (at most the caps, the keys waiting, the keys rate-limited).
            for (const auto& r : m_db->exec("SELECT l.key, COUNT(*), SUM(CASE WHEN j.state = 'running' THEN 1 ELSE 0 END) "
                                            "FROM job_limits l JOIN jobs j ON j.id = l.job_id GROUP BY l.key")) {
                auto& u = keys[r.str(0)];
                u.admitted = r.i64(1);
                u.running = r.i64(2);
            }
            for (const auto& r : m_db->exec("SELECT held_by, COUNT(*) FROM jobs WHERE state = 'pending' AND held = 1 GROUP BY held_by"))
                if (!r.is_null(0)) keys[r.str(0)].held = r.i64(1);
            const TimeMs now = m_db->exec("SELECT wfq_now_ms()").at(0).i64(0);
            std::map<std::string, std::pair<std::optional<double>, std::optional<TimeMs>>> buckets;
            for (const auto& r : m_db->exec("SELECT key, tokens, refilled_at, wake_at FROM limit_state")) {
                auto& u = keys[r.str(0)];
                u.wake_at = r.opt_i64(3);
                buckets[r.str(0)] = {r.is_null(1) ? std::nullopt : std::optional<double>(std::stod(r.str(1))), r.opt_i64(2)};
            }
            std::vector<LimitRuleUsage> out;
            for (const auto& rule : rules) out.push_back({rule, {}});
            for (auto& [key, u] : keys) {
                const LimitRule* rule = rule_for_key(rules, key);
                if (!rule) continue;
                u.key = key;
                if (rule->rate_n) {
                    auto b = buckets.find(key);
                    u.tokens = b == buckets.end() ? tokens_at(*rule, std::nullopt, std::nullopt, now)
                                                  : tokens_at(*rule, b->second.first, b->second.second, now);
                }
                if (u.admitted == 0 && u.held == 0 && !rule->rate_n) continue;
                if (u.admitted == 0 && u.held == 0 && u.tokens && *u.tokens >= rule->burst) continue;
                out[static_cast<std::size_t>(rule - rules.data())].keys.push_back(u);
            }
            return out;
        },
        default_db_retry_policy());
}

std::map<std::string, double> SqlStore::bucket_tokens(const std::vector<std::string>& keys,
                                                     const std::vector<LimitRule>& rules, TimeMs now) {
    std::map<std::string, std::pair<std::optional<double>, std::optional<TimeMs>>> stored;
    for (const auto& r : m_db->exec("SELECT s.key, s.tokens, s.refilled_at FROM limit_state s WHERE s.key IN (SELECT u.key FROM " +
                                        m_db->json_rows("$1", {{"key", "text"}}) + ")",
                                    {key_array(keys)}))
        stored[r.str(0)] = {r.is_null(1) ? std::nullopt : std::optional<double>(std::stod(r.str(1))), r.opt_i64(2)};
    std::map<std::string, double> tokens;
    for (const auto& k : keys) {
        const auto it = stored.find(k);
        tokens[k] = tokens_at(*rule_for_key(rules, k), it == stored.end() ? std::nullopt : it->second.first,
                              it == stored.end() ? std::nullopt : it->second.second, now);
    }
    return tokens;
}

void SqlStore::admit_held(TimeMs now, const std::vector<LimitRule>& rules) {
    std::set<std::string> keys;
    for (const auto& r :
         m_db->exec("DELETE FROM limit_freed WHERE id IN (SELECT id FROM limit_freed ORDER BY id LIMIT 1000) RETURNING key"))
        keys.insert(r.str(0));
    for (const auto& r : m_db->exec("SELECT key FROM limit_state WHERE wake_at <= $1", {now})) keys.insert(r.str(0));
    m_db->exec("UPDATE limit_state SET wake_at = NULL WHERE wake_at <= $1", {now});
    if (keys.empty()) return;
    const std::string key_rows = m_db->json_rows("$1", {{"key", "text"}});
    auto note_freed = [&](const std::vector<std::string>& ks) {  // for the next pass
        if (!ks.empty())
            m_db->exec("INSERT INTO limit_freed (key) SELECT u.key FROM " + key_rows, {key_array(ks)});
    };
    std::vector<std::string> active, later;
    for (const auto& k : keys) (active.size() < kKeysPerPass ? active : later).push_back(k);
    note_freed(later);
    // What this pass has seen of each key: slots used and tokens left, both counting the jobs it
    // admits. Loaded for many keys at once: a pass costs a few statements per round, whatever the
    // number of keys (one round trip per key and job made admission the bottleneck on PostgreSQL).
    std::map<std::string, std::int64_t> used;
    std::map<std::string, double> tokens;
    auto load = [&](const std::set<std::string>& want_used, const std::set<std::string>& want_tokens) {
        std::vector<std::string> u, t;
        for (const auto& k : want_used)
            if (!used.count(k)) {
                u.push_back(k);
                used[k] = 0;  // a key no admitted job holds has no row below
            }
        for (const auto& k : want_tokens)
            if (!tokens.count(k)) t.push_back(k);
        if (!u.empty())
            for (const auto& r : m_db->exec("SELECT l.key, COUNT(*) FROM job_limits l WHERE l.key IN (SELECT u.key FROM " +
                                                key_rows + ") GROUP BY l.key",
                                            {key_array(u)}))
                used[r.str(0)] = r.i64(1);
        if (!t.empty()) tokens.merge(bucket_tokens(t, rules, now));
    };
    struct Head {
        std::int64_t id;
        std::vector<std::string> keys;
        std::optional<std::string> lock_key;
    };
    // Rounds: each looks at the first due held-back job of every key still in play, in one
    // statement, and admits it, passes it on to the key that holds it back now, or stops the key.
    for (int round = 0; round < kHeadsPerKey && !active.empty(); ++round) {
        std::map<std::string, Head> heads;
        std::vector<std::string> idle;
        for (const auto& r : m_db->exec("SELECT h.held_by, h.id, h.limit_keys, h.lock_key FROM jobs h WHERE h.id IN (SELECT "
                                        "(SELECT j.id FROM jobs j WHERE j.state = 'pending' AND j.held = 1 AND j.held_by = u.key "
                                        "AND j.run_at <= $2 ORDER BY j.priority DESC, j.id LIMIT 1) FROM " + key_rows + ")",
                                        {key_array(active), now}))
            heads[r.str(0)] = Head{r.i64(1), r.is_null(2) ? std::vector<std::string>{} : limit_keys_from_json(r.str(2)),
                                   r.opt_str(3)};
        std::set<std::string> want_used, want_tokens;
        for (const auto& [key, head] : heads)
            for (const auto& k : head.keys) {
                const LimitRule* rule = rule_for_key(rules, k);
                if (concurrency_cap(rule, k, head.lock_key)) want_used.insert(k);
                if (rule && rule->rate_n) want_tokens.insert(k);
            }
        load(want_used, want_tokens);
        nlohmann::json admitted = nlohmann::json::array(), moved = nlohmann::json::array();
        std::vector<std::string> next;
        for (const auto& key : active) {
            const auto h = heads.find(key);
            if (h == heads.end()) {
                idle.push_back(key);
                continue;
            }
            const Head& head = h->second;
            std::optional<std::string> blocked;
            for (const auto& k : head.keys) {
                const LimitRule* rule = rule_for_key(rules, k);
                if (auto cap = concurrency_cap(rule, k, head.lock_key); cap && used[k] >= *cap) {
                    blocked = k;
                    break;
                }
                if (rule && rule->rate_n && tokens[k] < 1) {
                    blocked = k;
                    m_db->exec(kSetWake, {k, next_token_at(*rule, tokens[k], now)});
                    break;
                }
            }
            if (!blocked) {
                admitted.push_back({{"id", head.id}});
                for (const auto& k : head.keys) {
                    if (auto it = used.find(k); it != used.end()) ++it->second;
                    if (auto it = tokens.find(k); it != tokens.end()) it->second -= 1;
                }
                next.push_back(key);
            } else if (*blocked != key) {
                // Waits for the key that holds it back now; this key's next job may have room.
                moved.push_back({{"id", head.id}, {"key", *blocked}});
                next.push_back(key);
            }  // else this key is full: its next free slot brings it back
        }
        if (!admitted.empty())
            m_db->exec("UPDATE jobs SET held = 0, held_by = NULL WHERE " + m_db->json_ids_match("id", "$1"),
                       {admitted.dump()});
        if (!moved.empty())
            m_db->exec("UPDATE jobs SET held_by = u.key FROM " + m_db->json_rows("$1", {{"id", "bigint"}, {"key", "text"}}) +
                           " WHERE jobs.id = u.id",
                       {moved.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
        // Keys with nothing due: look again when the first one is (among the key's first jobs).
        for (const auto& key : idle)
            if (auto first = m_db->exec("SELECT MIN(run_at) FROM (SELECT run_at FROM jobs WHERE state = 'pending' AND "
                                        "held = 1 AND held_by = $1 ORDER BY priority DESC, id LIMIT 64) f",
                                        {key})
                                 .at(0)
                                 .opt_i64(0))
                m_db->exec(kSetWake, {key, *first});
        active = std::move(next);
    }
    note_freed(active);  // still more to look at: the next pass goes on
}

}  // namespace wfq::store
