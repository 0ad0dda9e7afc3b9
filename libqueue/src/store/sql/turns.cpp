// Flow control's group turns (DESIGN.md "Flow control"): among due jobs of the same priority in
// a queue, groups take turns, W turns per round for a group whose rule "group:G" gives weight W.
//
// A claim takes a priority's due jobs in the order of their turn key: run_at in nanoseconds plus
// turn_lag (turn_key() in sql_text.h; the claim index jobs_claim is on it). A job without a group
// has a lag of 0, so its key is its run_at as before groups: nothing is read or written for it at
// enqueue, and it has no other index entry. A grouped job's key is set once, when it is enqueued
// (per batch, here; wfq_assign_turns() in migration 15 for the SQL API, the same rules):
//  - due now: k = max(min(run_at, head), tail + stride/W), where head is the first key of the
//    queue's admitted pending jobs at its priority (where the round is now: one probe of the
//    claim index) and tail the key its group's previous due job got there (job_group_turns: one
//    row per queue, priority and group, locked by the batch until it commits, so concurrent
//    producers of one group line up). The group's tail becomes k.
//  - not yet due: k = max(run_at, tail + stride/W); the tail stays: it takes its group's next
//    turn once it is due, never before its run_at.
// The stride is 1 µs, so a group's backlog of N jobs spans N µs from where it joined the round:
// due jobs' keys stay at or before now (a backlog's last jobs a few ms after it) and jobs not yet
// due sort after them, so a claim reads the index range of keys up to now and nothing else,
// however many groups, delayed jobs or held-back jobs there are. Claims, retries, snoozes and
// releases that move run_at reset turn_lag to 0 (the job goes by its new run_at); a rescued job
// keeps its key, its place in line.
#include "sql_store.h"

#include "sql_text.h"

#include <wfq/clock.h>
#include <wfq/limits.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <tuple>

namespace wfq::store {
namespace {

constexpr std::int64_t kTurnStrideNs = 1000;           // one turn of a group of weight 1
constexpr std::int64_t kRulesFreshNs = 1'000'000'000;  // how stale an enqueue's group weights may be
constexpr int kPlaceCountedUpTo = 10000;               // jobs `why` counts ahead of one

}  // namespace

const std::vector<LimitRule>& SqlStore::group_rules() {
    // Producers need the weights at enqueue; a rule changed within the last second may not be
    // seen yet by a job enqueued now (documented in wfq-limits(1)).
    const std::int64_t now_ns = SystemClock::instance().steady_ns();
    if (!m_group_rules_ns || now_ns - *m_group_rules_ns >= kRulesFreshNs) {
        m_group_rules = load_rules();
        m_group_rules_ns = now_ns;
    }
    return m_group_rules;
}

void SqlStore::assign_turns(std::vector<NewJob>& jobs) {
    if (std::none_of(jobs.begin(), jobs.end(), [](const NewJob& j) { return j.group.has_value(); })) return;
    const std::vector<LimitRule>& rules = group_rules();
    const TimeMs now = m_db->exec("SELECT wfq_now_ms()").at(0).i64(0);
    using Place = std::pair<std::string, int>;                      // queue, priority
    using Group = std::tuple<std::string, int, std::string>;        // queue, priority, group
    std::map<Place, std::optional<std::int64_t>> heads;
    std::map<Group, std::optional<std::int64_t>> tails;             // in one order for every producer
    for (const auto& j : jobs) {
        if (!j.group) continue;
        heads.emplace(Place{j.queue, j.priority}, std::nullopt);
        tails.emplace(Group{j.queue, j.priority, *j.group}, std::nullopt);
    }
    for (auto& [place, head] : heads) {
        auto rows = m_db->exec("SELECT " + turn_key("") + " FROM jobs WHERE state = 'pending' AND queue = $1 AND held = 0 AND "
                               "priority = $2 ORDER BY " + turn_key("") + " LIMIT 1",
                               {place.first, std::int64_t(place.second)});
        head = rows.empty() ? std::nullopt : rows[0].opt_i64(0);
    }
    // Each group's row, created if new and locked until commit (the statement's rows in the
    // map's order, so two producers never wait on each other in a cycle).
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& [g, tail] : tails)
        keys.push_back({{"queue", std::get<0>(g)}, {"priority", std::get<1>(g)}, {"grp", std::get<2>(g)}});
    const std::string rows_json = keys.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const auto& r : m_db->exec("INSERT INTO job_group_turns (queue, priority, grp) SELECT u.queue, u.priority, u.grp FROM " +
                                        m_db->json_rows("$1", {{"queue", "text"}, {"priority", "integer"}, {"grp", "text"}}) +
                                        " WHERE true ON CONFLICT (queue, priority, grp) DO UPDATE SET tail = job_group_turns.tail "
                                        "RETURNING queue, priority, grp, tail",
                                    {rows_json}))
        tails[Group{r.str(0), static_cast<int>(r.i64(1)), r.str(2)}] = r.opt_i64(3);
    std::map<Group, std::int64_t> moved;
    for (auto& j : jobs) {
        if (!j.group) continue;
        const TimeMs run_at = j.run_at ? *j.run_at : now + j.delay_ms;
        j.run_at = run_at;  // the lag is relative to it: the store's clock, once per batch
        const std::int64_t run_ns = run_at_ns(run_at);
        const std::int64_t stride = std::max<std::int64_t>(1, kTurnStrideNs / group_weight(rules, *j.group));
        const Group g{j.queue, j.priority, *j.group};
        const std::optional<std::int64_t>& tail = tails[g];
        std::int64_t key = 0;
        if (run_at <= now) {
            const auto& head = heads[Place{j.queue, j.priority}];
            key = head ? std::min(run_ns, *head) : run_ns;
            if (tail) key = std::max(key, *tail + stride);
            tails[g] = key;
            moved[g] = key;
        } else {
            key = tail ? std::max(run_ns, *tail + stride) : run_ns;
        }
        j.turn_lag = key - run_ns;
    }
    if (moved.empty()) return;
    nlohmann::json updates = nlohmann::json::array();
    for (const auto& [g, tail] : moved)
        updates.push_back({{"queue", std::get<0>(g)}, {"priority", std::get<1>(g)}, {"grp", std::get<2>(g)}, {"tail", tail}});
    m_db->exec("UPDATE job_group_turns SET tail = u.tail FROM " +
                   m_db->json_rows("$1", {{"queue", "text"}, {"priority", "integer"}, {"grp", "text"}, {"tail", "bigint"}}) +
                   " WHERE job_group_turns.queue = u.queue AND job_group_turns.priority = u.priority AND "
                   "job_group_turns.grp = u.grp",
               {updates.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
}

GroupTurnPlace SqlStore::group_turn_place(const Job& job) {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    return retry(
        [&] {
            GroupTurnPlace place;
            std::vector<LimitRule> rules = load_rules();
            if (job.group) {
                place.weight = group_weight(rules, *job.group);
                if (const LimitRule* rule = rule_for_key(rules, "group:" + *job.group)) place.rule = rule->pattern;
            }
            const std::int64_t key = turn_key_ns(job.run_at, job.turn_lag);
            auto row = m_db->exec("SELECT COUNT(*), SUM(CASE WHEN s.grp = $5 THEN 1 ELSE 0 END) FROM (SELECT c.grp FROM jobs c "
                                  "WHERE c.state = 'pending' AND c.queue = $1 AND c.held = 0 AND c.priority = $2 AND "
                                  "(" + turn_key("c") + " < $3 OR (" + turn_key("c") + " = $3 AND c.id < $4)) AND "
                                  "c.run_at <= wfq_now_ms() ORDER BY " + turn_key("c") + " LIMIT $6) s",
                                  {job.queue, std::int64_t(job.priority), key, job.id, opt(job.group),
                                   std::int64_t(kPlaceCountedUpTo)})
                           .at(0);
            const std::int64_t ahead = row.i64(0);
            place.ahead_own = row.opt_i64(1).value_or(0);
            place.ahead_other = ahead - place.ahead_own;
            place.counted_all = ahead < kPlaceCountedUpTo;
            return place;
        },
        default_db_retry_policy());
}

}  // namespace wfq::store
