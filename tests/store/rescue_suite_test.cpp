// Rescue: expired leases and dead workers' jobs. (The suite: store_suite.h.)
#include "store_suite.h"

#include <wfq/fencing.h>

namespace wfq {
namespace {

TEST_P(StoreSuite, RescueRequeuesExpiredLeasesAndNeverOverwritesACompletedJob) {
    NewJob once = job("t");
    once.max_attempts = 1;
    auto exhausted = add(once);
    auto id = add(job("t"));
    auto got = claim("w1", 10, 50);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(m_store->rescue(60000).requeued.empty()) << "leases not yet expired";
    advance(100);
    EXPECT_TRUE(m_store->rescue(60000).requeued.empty())
        << "expired, but the holder may stop its handler up to M after the expiry (self-fencing)";
    advance(kFenceStopAfterExpiryMs);
    auto report = m_store->rescue(60000);
    EXPECT_EQ(report.requeued, std::vector<std::int64_t>{id});
    EXPECT_EQ(report.failed, std::vector<std::int64_t>{exhausted});
    // The old holder finishing late changes nothing.
    EXPECT_FALSE(test::complete(*m_store, {id, "w1", 1}, std::nullopt));
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(*j->error_class, "lease_expired");
    EXPECT_EQ(m_store->get_job(exhausted)->state, JobState::failed);
    // A job completed before the rescue is not touched by it.
    auto again = claim("w2", 10, 50);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 2);
    ASSERT_TRUE(test::complete(*m_store, {id, "w2", 2}, std::nullopt));
    advance(100 + kFenceStopAfterExpiryMs);
    EXPECT_TRUE(m_store->rescue(60000).requeued.empty());
    EXPECT_EQ(m_store->get_job(id)->state, JobState::completed);
}

TEST_P(StoreSuite, RescueTakesJobsOfDeadWorkers) {
    WorkerInfo w;
    w.id = "dead-worker";
    w.hostname = "h";
    w.pid = 1;
    m_store->register_worker(w);
    auto id = add(job("t"));
    ASSERT_EQ(claim("dead-worker", 1, 600000).size(), 1u);
    EXPECT_TRUE(m_store->rescue(200).requeued.empty());
    advance(300 + kFenceStopAfterExpiryMs);
    EXPECT_EQ(m_store->rescue(200).requeued, std::vector<std::int64_t>{id});
    // A rescued job's lock key is free again.
    NewJob keyed = job("keyed");
    keyed.lock_key = "pr:9";
    auto kid = add(keyed);
    ASSERT_EQ(m_store->claim_batch({"dead-worker", {}, {"keyed"}, 1, 600000}).size(), 1u);
    NewJob next = job("keyed");
    next.lock_key = "pr:9";
    auto nid = add(next);
    m_store->heartbeat("dead-worker", 1, "{}");
    advance(300 + kFenceStopAfterExpiryMs);
    EXPECT_EQ(m_store->rescue(200).requeued, std::vector<std::int64_t>{kid});
    auto after = m_store->claim_batch({"w2", {}, {"keyed"}, 5, 30000});
    ASSERT_EQ(after.size(), 1u) << "one of the key's jobs runs again";
    EXPECT_EQ(after[0].id, kid);
    EXPECT_NE(after[0].id, nid);
    JobFilter f;
    f.stuck = true;
    EXPECT_TRUE(m_store->list_jobs(f).empty());
}

TEST_P(StoreSuite, ARescuedJobKeepsItsPlaceInLine) {
    auto first = add(job("t"));
    ASSERT_EQ(claim("w1", 1, 50).size(), 1u);
    const TimeMs run_at = m_store->get_job(first)->run_at;
    advance(10);
    auto later = add(job("t"));  // enqueued while the first one ran
    advance(100 + kFenceStopAfterExpiryMs);
    ASSERT_EQ(m_store->rescue(60000).requeued, std::vector<std::int64_t>{first});
    EXPECT_EQ(m_store->get_job(first)->run_at, run_at) << "its original run_at, not the rescue's time";
    auto next = claim("w2", 1, 30000);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].id, first) << "ahead of job " << later << ", enqueued after it";
}

}  // namespace
}  // namespace wfq
