// Outcomes: compare-and-set on the lease, retries and dead letters, failure texts, releases
// and deferrals, and the completer's outcomes-and-claim transaction. (The suite: store_suite.h.)
#include "store_suite.h"

#include <algorithm>

namespace wfq {
namespace {

TEST_P(StoreSuite, FinishingIsCompareAndSetOnOwnerAndAttempt) {
    auto id = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 1u);
    EXPECT_FALSE(test::complete(*m_store, {id, "intruder", 1}, std::nullopt));
    EXPECT_FALSE(test::complete(*m_store, {id, "w1", 2}, std::nullopt));
    EXPECT_FALSE(test::fail(*m_store, {id, "intruder", 1}, {"exit_code", "x", std::nullopt}));
    EXPECT_TRUE(test::complete(*m_store, {id, "w1", 1}, std::string(R"({"ok":true})")));
    EXPECT_FALSE(test::complete(*m_store, {id, "w1", 1}, std::nullopt));  // already completed
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::completed);
    EXPECT_EQ(*j->result, R"({"ok":true})");
    EXPECT_FALSE(j->lease_owner);
    EXPECT_TRUE(j->finished_at);
}

TEST_P(StoreSuite, FailureRetriesWithDelayThenDeadLetters) {
    NewJob n = job("t");
    n.max_attempts = 2;
    auto id = add(n);
    ASSERT_EQ(claim("w1").size(), 1u);
    ASSERT_TRUE(test::fail(*m_store, {id, "w1", 1}, {"exit_code", "boom 1", std::int64_t(200)}));
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 1);
    EXPECT_EQ(*j->error_class, "exit_code");
    EXPECT_EQ(*j->last_error, "boom 1");
    EXPECT_TRUE(claim("w1").empty()) << "backing off";
    advance(250);
    auto again = claim("w1");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 2);
    ASSERT_TRUE(test::fail(*m_store, {id, "w1", 2}, {"timeout", "too slow", std::nullopt}));
    j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::failed);
    std::vector<std::string> kinds;
    for (const auto& e : m_store->job_events(id)) kinds.push_back(e.kind);
    EXPECT_EQ(kinds, (std::vector<std::string>{"enqueued", "claimed", "retry_scheduled", "claimed", "failed"}));
}

// A handler's stderr becomes last_error: not always UTF-8, perhaps with NUL. Both forms of the
// outcome flush (one statement over a JSON array on PostgreSQL, one per row on SQLite) store the
// same cleaned text, in the job and in its event, and PostgreSQL's jsonb takes it.
TEST_P(StoreSuite, FailureTextsAreStoredAsValidUtf8WithoutNul) {
    const std::string raw = std::string("bad \xff\xfe byte, a NUL \0 and cut \xe2\x82", 31);
    const std::string clean = "bad \xef\xbf\xbd\xef\xbf\xbd byte, a NUL \xef\xbf\xbd and cut \xef\xbf\xbd\xef\xbf\xbd";
    auto id = add(job("t"));
    auto other = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 2u);
    Outcome a;
    a.job = {id, "w1", 1};
    a.kind = Outcome::Kind::retry;
    a.error_class = "exit\xff";
    a.message = raw;
    a.delay_ms = 60000;
    Outcome b = a;  // two in one flush: the JSON form's batch
    b.job.id = other;
    b.kind = Outcome::Kind::failed;
    auto status = m_store->record_outcomes({a, b});
    ASSERT_EQ(status, (std::vector<OutcomeStatus>{OutcomeStatus::recorded, OutcomeStatus::recorded}));
    for (auto jid : {id, other}) {
        auto j = m_store->get_job(jid);
        ASSERT_TRUE(j->last_error);
        EXPECT_EQ(*j->last_error, clean);
        EXPECT_EQ(*j->error_class, "exit\xef\xbf\xbd");
        auto events = m_store->job_events(jid);
        ASSERT_FALSE(events.empty());
        ASSERT_TRUE(events.back().message);
        EXPECT_EQ(*events.back().message, clean) << events.back().kind;
    }
}

TEST_P(StoreSuite, ReleaseGivesTheAttemptBack) {
    auto id = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 1u);
    EXPECT_TRUE(test::release(*m_store, {id, "w1", 1}, "stopping"));
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 0);
    EXPECT_EQ(claim("w2").at(0).attempt, 1);
}

// The completer's hot path: outcomes and the next claim in one transaction. A lost outcome
// changes nothing and the claim still runs; a claim of limit 0 claims nothing.
TEST_P(StoreSuite, RecordOutcomesAndClaimInOneTransaction) {
    auto first = add(job("t"));
    auto second = add(job("t")), third = add(job("t"));
    ASSERT_EQ(claim("w1", 1).size(), 1u);
    Outcome done;
    done.job = {first, "w1", 1};
    done.kind = Outcome::Kind::completed;
    done.result = R"({"n":1})";
    std::vector<Job> claimed;
    auto status = m_store->record_outcomes_and_claim({done}, {"w1", {}, {}, 1, 30000}, claimed);
    EXPECT_EQ(status, std::vector<OutcomeStatus>{OutcomeStatus::recorded});
    auto j = m_store->get_job(first);
    EXPECT_EQ(j->state, JobState::completed);
    EXPECT_EQ(j->result.value_or(""), R"({"n":1})");
    ASSERT_EQ(ids(claimed), std::vector<std::int64_t>{second});
    EXPECT_EQ(claimed[0].state, JobState::running);
    EXPECT_EQ(claimed[0].lease_owner.value_or(""), "w1");
    EXPECT_EQ(claimed[0].attempt, 1);
    // The same outcome again: its lease is gone. The claim takes the next job all the same.
    status = m_store->record_outcomes_and_claim({done}, {"w1", {}, {}, 5, 30000}, claimed);
    EXPECT_EQ(status, std::vector<OutcomeStatus>{OutcomeStatus::lost});
    EXPECT_EQ(ids(claimed), std::vector<std::int64_t>{third});
    Outcome next = done;
    next.job = {second, "w1", 1};
    auto later = add(job("t"));
    status = m_store->record_outcomes_and_claim({next}, {"w1", {}, {}, 0, 30000}, claimed);
    EXPECT_EQ(status, std::vector<OutcomeStatus>{OutcomeStatus::recorded});
    EXPECT_TRUE(claimed.empty()) << "limit 0: outcomes only";
    EXPECT_EQ(m_store->get_job(later)->state, JobState::pending);
    EXPECT_EQ(m_store->get_job(second)->state, JobState::completed);
}

// A deferral gives the attempt back and runs the job again after its delay; the timeline
// shows it with its reason.
TEST_P(StoreSuite, DeferGivesTheAttemptBackUntilTheDelay) {
    auto id = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 1u);
    ASSERT_TRUE(test::defer(*m_store, {id, "w1", 1}, 200, "rate limited"));
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 0);
    EXPECT_TRUE(claim("w1").empty()) << "deferred";
    advance(250);
    EXPECT_EQ(claim("w2").at(0).attempt, 1);
    auto events = m_store->job_events(id);
    auto deferred = std::find_if(events.begin(), events.end(), [](const JobEvent& e) { return e.kind == "deferred"; });
    ASSERT_NE(deferred, events.end());
    EXPECT_EQ(deferred->message.value_or(""), "rate limited");
}

}  // namespace
}  // namespace wfq
