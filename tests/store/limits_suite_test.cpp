// Flow control: rules, admission of held-back jobs, slots freed by every path, rate tokens.
// (The suite: store_suite.h.)
#include "store_suite.h"

#include "../support/store_helpers.h"

#include <algorithm>

namespace wfq {
namespace {

class Limited : public StoreSuite {};

LimitRule concurrency_rule(const std::string& pattern, int n) {
    LimitRule r;
    r.pattern = pattern;
    r.concurrency = n;
    return r;
}

std::int64_t count_with(const std::vector<Job>& jobs, const std::string& key) {
    return std::count_if(jobs.begin(), jobs.end(), [&](const Job& j) {
        return std::find(j.limits.begin(), j.limits.end(), key) != j.limits.end();
    });
}

TEST_P(StoreSuite, ConcurrencyRulesCapRunningJobsPerKeyAndEveryPathFreesSlots) {
    m_store->limit_set(concurrency_rule("org:*", 2));
    m_store->limit_set(concurrency_rule("org:big", 3));  // the exact pattern wins
    auto limited = [&](const std::string& key) {
        NewJob j = job("t");
        j.limits = {key};
        return add(j);
    };
    for (int i = 0; i < 5; ++i) limited("org:a");
    for (int i = 0; i < 4; ++i) limited("org:big");
    auto free_job = add(job("t"));
    auto got = claim("w1", 20);
    EXPECT_EQ(count_with(got, "org:a"), 2);
    EXPECT_EQ(count_with(got, "org:big"), 3);
    EXPECT_TRUE(std::any_of(got.begin(), got.end(), [&](const Job& j) { return j.id == free_job; }));
    EXPECT_TRUE(claim("w2", 20).empty()) << "every key at its cap";
    LimitKeyUsage a = m_store->limit_key_usage("org:a");
    EXPECT_EQ(a.running, 2);
    EXPECT_EQ(a.admitted, 2);
    EXPECT_EQ(a.held, 3);
    auto rules = m_store->limit_rules();
    ASSERT_EQ(rules.size(), 2u);
    auto usage = m_store->limit_usage();
    ASSERT_EQ(usage.size(), 2u);
    EXPECT_EQ(usage[0].rule.pattern, "org:*");
    ASSERT_EQ(usage[0].keys.size(), 1u);
    EXPECT_EQ(usage[0].keys[0].key, "org:a");
    EXPECT_EQ(usage[0].keys[0].held, 3);

    std::vector<Job> a_jobs;
    for (const auto& j : got)
        if (count_with({j}, "org:a")) a_jobs.push_back(j);
    // Completing one frees its slot: the next claim takes one more, no more.
    ASSERT_TRUE(test::complete(*m_store, {a_jobs[0].id, "w1", 1}, std::nullopt));
    auto next = claim("w2", 20);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(count_with(next, "org:a"), 1);
    // A retry gives the slot back (the job waits in line again), as does a cancel.
    ASSERT_TRUE(test::fail(*m_store, {a_jobs[1].id, "w1", 1}, Failure{"exit_code", "boom", 0}));
    EXPECT_EQ(m_store->get_job(a_jobs[1].id)->held, true);
    auto after_retry = claim("w3", 20);
    ASSERT_EQ(after_retry.size(), 1u);
    EXPECT_EQ(act_on_job(*m_store, BulkAction::cancel, next[0].id, "ops@host"), AdminResult::done);
    auto after_cancel = claim("w4", 20, 50);
    ASSERT_EQ(after_cancel.size(), 1u);
    EXPECT_EQ(m_store->limit_key_usage("org:a").running, 2);
    // A rescued job frees its slot too.
    advance(1100);  // past the lease and the rescuer's wait M (1 s) after it
    m_store->rescue(60000);
    EXPECT_EQ(m_store->limit_key_usage("org:a").running, 1);
    EXPECT_EQ(count_with(claim("w5", 20), "org:a"), 1);
}

TEST_P(StoreSuite, AJobStartsOnlyWhenEveryKeyAllowsIt) {
    m_store->limit_set(concurrency_rule("k:*", 1));
    NewJob a = job("t"), ab = job("t"), b = job("t");
    a.limits = {"k:a"};
    ab.limits = {"k:b", "k:a"};
    b.limits = {"k:b"};
    auto ida = add(a);
    auto idab = add(ab);
    auto idb = add(b);
    EXPECT_EQ(m_store->get_job(idab)->limits, (std::vector<std::string>{"k:a", "k:b"})) << "sorted";
    auto first = claim("w", 10);
    std::set<std::int64_t> ran;
    for (const auto& j : first) ran.insert(j.id);
    EXPECT_EQ(ran, (std::set<std::int64_t>{ida, idb}));
    ASSERT_TRUE(test::complete(*m_store, {ida, "w", 1}, std::nullopt));
    EXPECT_TRUE(claim("w", 10).empty()) << "k:b still runs";
    ASSERT_TRUE(test::complete(*m_store, {idb, "w", 1}, std::nullopt));
    auto last = claim("w", 10);
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].id, idab);
}

TEST_P(StoreSuite, RateRulesSpendATokenOnlyWhenAJobStarts) {
    LimitRule r;
    r.pattern = "gh:inst";
    r.rate_n = 2;
    r.rate_per_ms = 1000;
    r.burst = 2;
    m_store->limit_set(r);
    for (int i = 0; i < 5; ++i) {
        NewJob j = job("t");
        j.limits = {"gh:inst"};
        add(j);
    }
    EXPECT_EQ(claim("w", 10).size(), 2u) << "the burst";
    EXPECT_TRUE(claim("w", 10).empty()) << "no token left";
    advance(520);
    EXPECT_EQ(claim("w", 10).size(), 1u) << "one token after half a second";
    auto u = m_store->limit_key_usage("gh:inst");
    EXPECT_EQ(u.held, 2);
    ASSERT_TRUE(u.wake_at);
}

TEST_P(StoreSuite, ChangingOrRemovingARuleReleasesWhatItHeldBack) {
    m_store->limit_set(concurrency_rule("t:*", 0));
    std::vector<std::int64_t> held;
    for (int i = 0; i < 3; ++i) {
        NewJob j = job("t");
        j.limits = {"t:x"};
        held.push_back(add(j));
    }
    EXPECT_TRUE(claim("w", 10).empty());
    EXPECT_EQ(*m_store->get_job(held[0])->held_by, "t:x");
    m_store->limit_set(concurrency_rule("t:*", 1));
    EXPECT_EQ(claim("w", 10).size(), 1u);
    EXPECT_TRUE(m_store->limit_remove("t:*"));
    EXPECT_FALSE(m_store->limit_remove("t:*"));
    EXPECT_EQ(claim("w", 10).size(), 2u) << "no rule: nothing limits the key";
    EXPECT_TRUE(m_store->limit_rules().empty());
}

TEST_P(StoreSuite, GroupsOfEqualPriorityTakeWeightedTurns) {
    auto batch = [&](const std::string& group, int n, int priority = 0) {
        std::vector<NewJob> jobs;
        for (int i = 0; i < n; ++i) {
            NewJob j = job("t");
            j.group = group;
            j.priority = priority;
            jobs.push_back(j);
        }
        std::vector<std::int64_t> ids;
        for (const auto& r : m_store->enqueue_batch(jobs)) ids.push_back(r.id);
        return ids;
    };
    auto groups_of = [&](const std::vector<Job>& got) {
        std::string s;
        for (const auto& j : got) s += j.group.value_or("-");
        return s;
    };
    // B's jobs enqueued after A's take turns with them; an ungrouped job enqueued last goes by
    // its run_at, after them; a higher priority comes first.
    batch("A", 4);
    auto b = batch("B", 2);
    advance(5);  // (a group's turns are 1 µs apart; the ungrouped job comes 5 ms later)
    add(job("t"));
    batch("C", 1, 5);
    EXPECT_EQ(groups_of(claim("w1", 3)), "CAB");
    Job last_b = *m_store->get_job(b[1]);
    EXPECT_EQ(last_b.group, "B");
    GroupTurnPlace place = m_store->group_turn_place(last_b);
    EXPECT_EQ(place.ahead_other, 1);  // A's second job
    EXPECT_EQ(place.ahead_own, 0);
    EXPECT_EQ(place.weight, 1);
    EXPECT_EQ(groups_of(claim("w1", 10)), "ABAA-");

    LimitRule heavy;
    heavy.pattern = "group:H";
    heavy.weight = 3;
    m_store->limit_set(heavy);
    batch("H", 6);
    batch("L", 2);
    EXPECT_EQ(m_store->group_turn_place(*m_store->get_job(batch("L", 1)[0])).weight, 1);
    advance(1);  // the last turn is 2 µs after the first
    EXPECT_EQ(groups_of(claim("w1", 20)), "HLHHHLHHL");
}

}  // namespace
}  // namespace wfq
