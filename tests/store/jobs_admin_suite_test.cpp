// Job admin: one job's retry and cancel, prune, list filters. (The suite: store_suite.h.)
#include "store_suite.h"

namespace wfq {
namespace {

TEST_P(StoreSuite, OperatorRetryAndCancel) {
    NewJob n = job("t");
    n.max_attempts = 1;
    auto id = add(n);
    auto pending = add(job("p"));
    EXPECT_EQ(act_on_job(*m_store, BulkAction::retry, id + 100, "ops@host"), AdminResult::not_found);
    EXPECT_EQ(act_on_job(*m_store, BulkAction::cancel, id + 100, "ops@host"), AdminResult::not_found);
    ASSERT_EQ(claim("w1", 1).size(), 1u);
    EXPECT_EQ(act_on_job(*m_store, BulkAction::retry, id, "ops@host"), AdminResult::wrong_state) << "running";
    ASSERT_TRUE(test::fail(*m_store, {id, "w1", 1}, {"exit_code", "no", std::nullopt}));
    EXPECT_EQ(act_on_job(*m_store, BulkAction::cancel, id, "ops@host"), AdminResult::wrong_state) << "finished";
    EXPECT_EQ(act_on_job(*m_store, BulkAction::retry, id, "ops@host"), AdminResult::done);
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 0);
    EXPECT_EQ(act_on_job(*m_store, BulkAction::cancel, pending, "ops@host"), AdminResult::done);
    EXPECT_EQ(m_store->get_job(pending)->state, JobState::cancelled);
    // Cancelling a running job takes its lease away: the worker cannot complete it.
    auto running = claim("w2", 1);
    ASSERT_EQ(running.size(), 1u);
    EXPECT_EQ(act_on_job(*m_store, BulkAction::cancel, running[0].id, "ops@host"), AdminResult::done);
    EXPECT_FALSE(test::complete(*m_store, {running[0].id, "w2", running[0].attempt}, std::nullopt));
    EXPECT_EQ(m_store->renew_leases({{running[0].id, "w2", running[0].attempt}}, 30000),
              std::vector<std::int64_t>{running[0].id});
}

TEST_P(StoreSuite, PruneDeletesOnlyOldFinishedJobs) {
    for (int i = 0; i < 5; ++i) add(job("t"));
    auto keep = add(job("keep"));
    auto jobs = claim("w", 5);
    for (const auto& j : jobs) ASSERT_TRUE(test::complete(*m_store, {j.id, "w", 1}, std::nullopt));
    advance(200);
    std::vector<std::int64_t> progress;
    auto n = m_store->prune(100, {JobState::completed}, 2, [&](std::int64_t d) { progress.push_back(d); });
    EXPECT_EQ(n, 5);
    EXPECT_EQ(progress.back(), 5);
    EXPECT_GE(progress.size(), 3u) << "batched";
    EXPECT_TRUE(m_store->get_job(keep));
    EXPECT_TRUE(m_store->job_events(jobs[0].id).empty());
}

TEST_P(StoreSuite, ListFiltersByDisplayStates) {
    NewJob later = job("later");
    later.delay_ms = 600000;
    add(later);
    auto now_id = add(job("now"));
    JobFilter f;
    f.scheduled_only = true;
    auto scheduled = m_store->list_jobs(f);
    ASSERT_EQ(scheduled.size(), 1u);
    EXPECT_EQ(scheduled[0].type, "later");
    ASSERT_EQ(claim("w").size(), 1u);
    ASSERT_TRUE(test::fail(*m_store, {now_id, "w", 1}, {"exit_code", "x", std::int64_t(1)}));
    JobFilter r;
    r.retrying_only = true;
    auto retrying = m_store->list_jobs(r);
    ASSERT_EQ(retrying.size(), 1u);
    EXPECT_EQ(retrying[0].id, now_id);
}

// `jobs list --queue Q` answers at once for a queue no job has ever had (job_queues, written by
// the first job of each queue); a queue whose jobs were all pruned stays known and lists none.
TEST_P(StoreSuite, ListByQueueKnowsEveryQueueEverUsed) {
    NewJob mail = job("send");
    mail.queue = "mail";
    auto id = add(mail);
    auto in = [&](std::vector<std::string> queues) {
        JobFilter f;
        f.scope.queues = std::move(queues);
        return ids(m_store->list_jobs(f));
    };
    EXPECT_EQ(m_store->queues_ever_used({"nosuch", "mail"}), std::vector<std::string>{"mail"});
    EXPECT_TRUE(in({"nosuch"}).empty());
    EXPECT_EQ(in({"mail"}), std::vector<std::int64_t>{id});
    EXPECT_EQ(in({"nosuch", "mail"}), std::vector<std::int64_t>{id});
    ASSERT_EQ(claim("w").size(), 1u);
    ASSERT_TRUE(test::complete(*m_store, {id, "w", 1}, std::nullopt));
    advance(200);
    EXPECT_EQ(m_store->prune(100, {JobState::completed}, 10, nullptr), 1);
    EXPECT_TRUE(in({"mail"}).empty());
    EXPECT_EQ(m_store->queues_ever_used({"mail"}), std::vector<std::string>{"mail"}) << "kept after the prune";
    mail.queue = "mail2";
    auto second = add(mail);
    EXPECT_EQ(in({"mail2"}), std::vector<std::int64_t>{second}) << "a new queue's first job";
}

}  // namespace
}  // namespace wfq
