// Enqueue: every field stored, idempotency keys, batches, names that look like SQL.
// (The suite: store_suite.h.)
#include "store_suite.h"

#include <set>

namespace wfq {
namespace {

TEST_P(StoreSuite, EnqueueStoresEveryField) {
    NewJob j = job("review", R"({"pr": 7, "repo": "a/b"})");
    j.queue = "q1";
    j.priority = 5;
    j.max_attempts = 4;
    j.key = "k1";
    j.lock_key = "pr:7";
    j.org = "acme";
    j.repo = "widgets";
    j.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    auto r = m_store->enqueue(j);
    EXPECT_FALSE(r.duplicate);
    auto got = m_store->get_job(r.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->type, "review");
    EXPECT_EQ(got->queue, "q1");
    EXPECT_EQ(got->state, JobState::pending);
    EXPECT_EQ(got->priority, 5);
    EXPECT_EQ(got->max_attempts, 4);
    EXPECT_EQ(got->attempt, 0);
    EXPECT_EQ(*got->key, "k1");
    EXPECT_EQ(*got->lock_key, "pr:7");
    EXPECT_EQ(*got->org, "acme");
    EXPECT_EQ(*got->repo, "widgets");
    EXPECT_EQ(got->correlation_id, "c-review");
    EXPECT_EQ(*got->traceparent, *j.traceparent);
    EXPECT_NE(got->payload.find("\"pr\""), std::string::npos);
    EXPECT_FALSE(m_store->get_job(r.id + 1000));
    auto events = m_store->job_events(r.id);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, "enqueued");
}

TEST_P(StoreSuite, IdempotencyKeyReturnsTheActiveJobAndFreesWhenFinished) {
    NewJob j = job("t");
    j.key = "same";
    auto first = m_store->enqueue(j);
    auto second = m_store->enqueue(j);
    EXPECT_TRUE(second.duplicate);
    EXPECT_EQ(first.id, second.id);
    auto claimed = claim("w1");
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_TRUE(m_store->enqueue(j).duplicate);  // still active while running
    ASSERT_TRUE(test::complete(*m_store, {first.id, "w1", 1}, std::nullopt));
    auto third = m_store->enqueue(j);
    EXPECT_FALSE(third.duplicate);
    EXPECT_NE(third.id, first.id);
}

TEST_P(StoreSuite, BatchEnqueueReportsDuplicatesInOrder) {
    std::vector<NewJob> batch;
    for (int i = 0; i < 1200; ++i) {
        NewJob j = job("bulk", "{\"i\":" + std::to_string(i) + "}");
        if (i % 100 == 0) j.key = "k" + std::to_string(i / 200);  // pairs of lines share a key
        batch.push_back(j);
    }
    auto results = m_store->enqueue_batch(batch);
    ASSERT_EQ(results.size(), batch.size());
    int dups = 0;
    std::set<std::int64_t> ids;
    for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i].duplicate) {
            ++dups;
            EXPECT_EQ(results[i].id, results[i - 100].id) << "line " << i;
        }
        ids.insert(results[i].id);
    }
    EXPECT_EQ(dups, 6);
    EXPECT_EQ(ids.size(), 1200u - 6u);
    EXPECT_EQ(test::count_in_state(*m_store, JobState::pending), 1194);
}

TEST_P(StoreSuite, NamesWithSqlMetacharactersRoundTrip) {
    NewJob j = job("x'); DROP TABLE jobs; --", R"({"q":"'\"; --"})");
    j.key = "k' OR '1'='1";
    j.lock_key = "$1 \\ %_";
    auto id = add(j);
    auto got = m_store->get_job(id);
    EXPECT_EQ(got->type, j.type);
    EXPECT_EQ(*got->key, *j.key);
    EXPECT_EQ(*got->lock_key, *j.lock_key);
    JobFilter f;
    f.scope.types = {j.type};
    EXPECT_EQ(m_store->list_jobs(f).size(), 1u);
    EXPECT_TRUE(m_store->lock_acquire("'; DELETE FROM locks; --", "o'wner", 1000));
    EXPECT_EQ(m_store->list_locks().size(), 1u);
}

}  // namespace
}  // namespace wfq
