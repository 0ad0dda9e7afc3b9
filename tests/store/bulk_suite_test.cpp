// Bulk actions by filter, and the control waker their cancels wake. (The suite: store_suite.h.)
#include "store_suite.h"

#include <thread>

namespace wfq {
namespace {

TEST_P(StoreSuite, BulkActionsAreCompareAndSetOnTheStateSeen) {
    NewJob a = job("a");
    a.max_attempts = 1;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(add(a));
    auto running = claim("w1", 4);
    ASSERT_EQ(running.size(), 4u);
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(test::fail(*m_store, {ids[i], "w1", 1}, {i == 0 ? "timeout" : "crash", "x", std::nullopt}));
    BulkFilter f;
    f.states = {JobState::failed};
    f.scope.error_classes = {"crash"};
    EXPECT_EQ(m_store->count_matching(f), 2);
    auto seen = m_store->find_matching(f, 0, 10);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].id, ids[1]);
    // Meanwhile one of them is retried by someone else (and claimed again): it is skipped.
    EXPECT_EQ(act_on_job(*m_store, BulkAction::retry, ids[2], "ops@host"), AdminResult::done);
    auto changed = m_store->apply_bulk(BulkAction::retry, f, seen, "ops@host");
    EXPECT_EQ(changed, std::vector<std::int64_t>{ids[1]});
    EXPECT_EQ(m_store->get_job(ids[1])->state, JobState::pending);
    EXPECT_EQ(m_store->get_job(ids[0])->state, JobState::failed) << "another class";
    // A stale candidate that says "failed" for a running job changes nothing.
    BulkFilter any;
    any.states = {JobState::failed, JobState::pending};
    EXPECT_TRUE(m_store->apply_bulk(BulkAction::retry, any, {{ids[3], JobState::failed}}, "ops@host").empty());
    EXPECT_EQ(m_store->get_job(ids[3])->state, JobState::running);
    // Cancel of a running job: its timeline names who did it, and its worker's renewal fails.
    BulkFilter active;
    active.states = {JobState::running};
    EXPECT_EQ(m_store->apply_bulk(BulkAction::cancel, active, {{ids[3], JobState::running}}, "ops@host"),
              std::vector<std::int64_t>{ids[3]});
    auto events = m_store->job_events(ids[3]);
    EXPECT_EQ(events.back().kind, "cancelled");
    EXPECT_EQ(events.back().message.value_or(""), "cancelled by ops@host");
    EXPECT_EQ(m_store->renew_leases({{ids[3], "w1", 1}}, 30000), std::vector<std::int64_t>{ids[3]});
    // Prune deletes finished jobs with their events.
    BulkFilter finished;
    finished.states = {JobState::cancelled};
    finished.scope.older_than_ms = 0;
    advance(5);
    EXPECT_EQ(m_store->apply_bulk(BulkAction::prune, finished, m_store->find_matching(finished, 0, 10), "ops@host"),
              std::vector<std::int64_t>{ids[3]});
    EXPECT_FALSE(m_store->get_job(ids[3]));
    EXPECT_TRUE(m_store->job_events(ids[3]).empty());
}

TEST_P(StoreSuite, ControlWakerWakesWhenARunningJobIsCancelled) {
    auto id = add(job("c"));
    ASSERT_EQ(claim("w1", 1).size(), 1u);
    auto waker = m_store->open_control_waker();
    auto other = open(false);
    std::thread op([&] { EXPECT_EQ(act_on_job(*other, BulkAction::cancel, id + 1000, "ops@host"), AdminResult::not_found); });
    op.join();
    EXPECT_FALSE(waker->wait(200)) << "nothing running was cancelled";
    BulkFilter f;
    f.states = {JobState::running};
    std::thread cancel([&] { other->apply_bulk(BulkAction::cancel, f, {{id, JobState::running}}, "ops@host"); });
    bool woke = false;
    auto start = std::chrono::steady_clock::now();
    while (!woke && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) woke = waker->wait(500);
    cancel.join();
    EXPECT_TRUE(woke);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace wfq
