// Enqueue: every field stored, idempotency keys and key modes, batches, names that look like SQL.
// (The suite: store_suite.h.)
#include "store_suite.h"

#include <algorithm>
#include <set>
#include <thread>

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

namespace {
std::size_t count_kind(const std::vector<JobEvent>& events, const std::string& kind) {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [&](const JobEvent& e) { return e.kind == kind; }));
}
}  // namespace

TEST_P(StoreSuite, KeyModeReplaceTakesPayloadAndRunAtPreserveRunAtOnlyThePayload) {
    const TimeMs later = m_clock.now_ms() + 3600000;
    NewJob j = job("deb", R"({"v":1})");
    j.key = "debounce";
    j.key_mode = KeyMode::replace;
    j.run_at = later;
    auto first = m_store->enqueue(j);
    j.payload = R"({"v":2})";
    j.run_at = later + 1000;
    auto second = m_store->enqueue(j);
    EXPECT_EQ(second.id, first.id);
    EXPECT_TRUE(second.duplicate);
    EXPECT_TRUE(second.replaced);
    auto got = m_store->get_job(first.id);
    EXPECT_NE(got->payload.find('2'), std::string::npos);
    EXPECT_EQ(got->run_at, later + 1000);
    EXPECT_EQ(count_kind(m_store->job_events(first.id), "replaced"), 1u);

    j.key_mode = KeyMode::preserve_run_at;
    j.payload = R"({"v":3})";
    j.run_at = later + 5000;
    EXPECT_EQ(m_store->enqueue(j).id, first.id);
    got = m_store->get_job(first.id);
    EXPECT_NE(got->payload.find('3'), std::string::npos);
    EXPECT_EQ(got->run_at, later + 1000);

    j.key_mode = KeyMode::keep;
    j.payload = R"({"v":4})";
    auto kept = m_store->enqueue(j);
    EXPECT_TRUE(kept.duplicate);
    EXPECT_FALSE(kept.replaced);
    EXPECT_NE(m_store->get_job(first.id)->payload.find('3'), std::string::npos);
}

TEST_P(StoreSuite, KeyModeNeverChangesAStartedJobAndItsSuccessorRunsAfterIt) {
    NewJob j = job("push", R"({"v":1})");
    j.key = "pr-9";
    j.key_mode = KeyMode::replace;
    auto first = m_store->enqueue(j);
    ASSERT_EQ(claim("w1").size(), 1u);
    j.payload = R"({"v":2})";
    auto next = m_store->enqueue(j);
    EXPECT_NE(next.id, first.id);
    EXPECT_FALSE(next.duplicate);
    j.payload = R"({"v":3})";
    EXPECT_EQ(m_store->enqueue(j).id, next.id);  // never two pending
    EXPECT_NE(m_store->get_job(first.id)->payload.find('1'), std::string::npos);
    EXPECT_EQ(count_kind(m_store->job_events(first.id), "superseded"), 1u);
    EXPECT_EQ(count_kind(m_store->job_events(next.id), "replaced"), 1u);
    EXPECT_TRUE(claim("w2").empty()) << "the successor ran beside the job it follows";
    // keep names the job that has not started.
    j.key_mode = KeyMode::keep;
    EXPECT_EQ(m_store->enqueue(j).id, next.id);
    // The first job retries: it is pending again beside its successor (no unique violation),
    // and runs first; the successor after it.
    ASSERT_TRUE(test::fail(*m_store, {first.id, "w1", 1}, {"crash", "x", 0}));
    auto again = claim("w2");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].id, first.id);
    EXPECT_TRUE(claim("w3").empty());
    ASSERT_TRUE(test::complete(*m_store, {first.id, "w2", 2}, std::nullopt));
    auto last = claim("w3");
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].id, next.id);
    EXPECT_NE(last[0].payload.find('3'), std::string::npos);
}

TEST_P(StoreSuite, KeyModeRacingProducersGetOneJobAndTheLastPayload) {
    constexpr int kProducers = 6, kEach = 10;
    std::vector<std::thread> threads;
    std::vector<std::vector<std::int64_t>> ids(kProducers);
    for (int p = 0; p < kProducers; ++p)
        threads.emplace_back([&, p] {
            auto store = open(false);
            for (int i = 0; i < kEach; ++i) {
                NewJob j = job("race", "{\"p\":" + std::to_string(p) + ",\"i\":" + std::to_string(i) + "}");
                j.key = "race";
                j.key_mode = KeyMode::replace;
                j.delay_ms = 3600000;
                ids[p].push_back(store->enqueue(j).id);
            }
        });
    for (auto& t : threads) t.join();
    std::set<std::int64_t> distinct;
    for (const auto& v : ids) distinct.insert(v.begin(), v.end());
    ASSERT_EQ(distinct.size(), 1u);
    EXPECT_EQ(test::count_in_state(*m_store, JobState::pending), 1);
    EXPECT_EQ(count_kind(m_store->job_events(*distinct.begin()), "replaced"), std::size_t(kProducers * kEach - 1));
    NewJob last = job("race", R"({"last":true})");
    last.key = "race";
    last.key_mode = KeyMode::replace;
    EXPECT_EQ(m_store->enqueue(last).id, *distinct.begin());
    EXPECT_NE(m_store->get_job(*distinct.begin())->payload.find("last"), std::string::npos);
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
