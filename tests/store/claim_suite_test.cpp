// Claims: order, filters, several queues, lock keys, concurrent claimers; the idle worker's
// next due time and wakers; adopting running jobs; prefetch marks. (The suite: store_suite.h.)
#include "store_suite.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace wfq {
namespace {

TEST_P(StoreSuite, ClaimsByPriorityThenRunAtThenId) {
    auto low = add(job("a"));
    NewJob hi = job("b");
    hi.priority = 10;
    auto high = add(hi);
    NewJob later = job("c");
    later.delay_ms = 60000;
    add(later);
    auto low2 = add(job("d"));
    auto got = claim("w1");
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].id, high);
    EXPECT_EQ(got[1].id, low);
    EXPECT_EQ(got[2].id, low2);
    for (const auto& j : got) {
        EXPECT_EQ(j.state, JobState::running);
        EXPECT_EQ(j.attempt, 1);
        EXPECT_EQ(*j.lease_owner, "w1");
        EXPECT_TRUE(j.lease_expires_at);
    }
    EXPECT_TRUE(claim("w2").empty());  // the scheduled job is not due
    auto due = m_store->next_due({}, {});
    ASSERT_TRUE(due);
    EXPECT_GT(*due, m_store->db_now());
}

TEST_P(StoreSuite, ClaimFiltersByQueueAndTypeAndLimit) {
    NewJob a = job("x");
    a.queue = "other";
    add(a);
    add(job("y"));
    add(job("y"));
    add(job("z"));
    EXPECT_TRUE(m_store->claim_batch({"w", {"nope"}, {}, 10, 30000}).empty());
    auto got = m_store->claim_batch({"w", {"default"}, {"y"}, 1, 30000});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, "y");
    got = m_store->claim_batch({"w", {"other"}, {}, 10, 30000});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, "x");
}

// A worker on several queues claims each queue's jobs from the claim index and takes the first
// of them all in one order (priority, then due time, then id): the same jobs as one sorted
// list, with type filters, paused queues, lock keys and a queue named twice.
TEST_P(StoreSuite, ClaimsAcrossQueuesInOneOrder) {
    auto a1 = add_to("a", "t", 0);
    auto b1 = add_to("b", "t", 5);
    add_to("c", "t", 9);  // not served
    auto a2 = add_to("a", "t", 5);
    auto b2 = add_to("b", "t", 0);
    auto a3 = add_to("a", "u", 7);  // another type
    auto b3 = add_to("b", "t", 1);
    EXPECT_EQ(ids(m_store->claim_batch({"w1", {"a", "b", "a"}, {"t"}, 3, 30000})), (std::vector<std::int64_t>{b1, a2, b3}));
    ASSERT_TRUE(m_store->set_queue_paused("b", true, "test"));
    ClaimRequest unkeyed{"w2", {"b", "a"}, {}, 10, 30000};
    unkeyed.unkeyed_only = true;
    EXPECT_EQ(ids(m_store->claim_batch(unkeyed)), (std::vector<std::int64_t>{a3, a1})) << "b is paused";
    ASSERT_TRUE(m_store->set_queue_paused("b", false, "test"));
    // Two jobs of one lock key in two queues: one batch holds only one, the first in claim
    // order (priority, then run_at, then id) of the key's jobs.
    NewJob k1 = job("t");
    k1.queue = "a";
    k1.lock_key = "repo";
    add(k1);
    NewJob k2 = job("t");
    k2.queue = "b";
    k2.lock_key = "repo";
    k2.priority = 9;
    auto key2 = add(k2);
    EXPECT_EQ(ids(m_store->claim_batch({"w3", {"a", "b"}, {}, 10, 30000})), (std::vector<std::int64_t>{key2, b2}));
    EXPECT_TRUE(m_store->claim_batch({"w4", {"a", "b"}, {}, 10, 30000}).empty()) << "the key's second job waits";
}

// Each queue's pick must itself be ordered and limited: every queue has more jobs than the
// limit, and its best job is its newest.
TEST_P(StoreSuite, ClaimsAcrossQueuesTakeEachQueuesBestJobsFirst) {
    auto a_low1 = add_to("a", "t", 0), a_low2 = add_to("a", "t", 0), b_low = add_to("b", "t", 0), b_mid = add_to("b", "t", 3);
    auto a_hi = add_to("a", "t", 5), b_hi = add_to("b", "t", 8);
    auto claim_ids = [&](int limit) { return ids(m_store->claim_batch({"w", {"a", "b"}, {}, limit, 30000})); };
    EXPECT_EQ(claim_ids(1), (std::vector<std::int64_t>{b_hi}));
    EXPECT_EQ(claim_ids(2), (std::vector<std::int64_t>{a_hi, b_mid}));
    EXPECT_EQ(claim_ids(2), (std::vector<std::int64_t>{a_low1, a_low2}));
    EXPECT_EQ(claim_ids(2), (std::vector<std::int64_t>{b_low}));
    EXPECT_TRUE(claim_ids(2).empty());
}

// next_due reads each priority's first due time: the answer is the earliest over priorities,
// queues and types, without paused or unserved queues.
TEST_P(StoreSuite, NextDueIsTheEarliestOverPrioritiesQueuesAndTypes) {
    auto in = [&](const std::string& queue, const std::string& type, int priority, std::int64_t delay_s) {
        return m_store->get_job(add_to(queue, type, priority, delay_s * 1000))->run_at;
    };
    in("a", "t", 5, 60);
    auto a0 = in("a", "t", 0, 10);
    auto a3u = in("a", "u", 3, 30);
    in("a", "u", 3, 40);
    auto b1 = in("b", "t", 1, 20);
    in("c", "t", 9, 1);  // not served
    in("d", "t", 0, 2);  // paused below
    ASSERT_TRUE(m_store->set_queue_paused("d", true, "test"));
    EXPECT_EQ(m_store->next_due({"a", "b"}, {}), a0);
    EXPECT_EQ(m_store->next_due({"a", "a"}, {"u"}), a3u);
    EXPECT_EQ(m_store->next_due({"d", "b"}, {}), b1);
    EXPECT_EQ(m_store->next_due({"b"}, {"u"}), std::nullopt);
    EXPECT_EQ(m_store->next_due({"d"}, {}), std::nullopt);
    EXPECT_EQ(m_store->next_due({"nothing"}, {}), std::nullopt);
}

TEST_P(StoreSuite, LockKeyAllowsOneRunningJobWhileOthersFlow) {
    NewJob a = job("a");
    a.lock_key = "pr:1";
    NewJob b = job("b");
    b.lock_key = "pr:1";
    auto ida = add(a);
    auto idb = add(b);
    auto free_job = add(job("c"));
    auto got = claim("w1");
    ASSERT_EQ(got.size(), 2u);
    std::set<std::int64_t> ids{got[0].id, got[1].id};
    EXPECT_EQ(ids, (std::set<std::int64_t>{ida, free_job}));
    EXPECT_TRUE(claim("w2").empty()) << "b waits for a's key";
    EXPECT_EQ(m_store->get_job(idb)->attempt, 0) << "waiting burns no attempt";
    ASSERT_TRUE(test::complete(*m_store, {ida, "w1", 1}, std::nullopt));
    auto next = claim("w2");
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].id, idb);
}

TEST_P(StoreSuite, ConcurrentClaimersNeverShareAJob) {
    std::vector<NewJob> batch;
    for (int i = 0; i < 300; ++i) {
        NewJob j = job("t");
        if (i % 3 == 0) j.lock_key = "k" + std::to_string(i % 7);
        batch.push_back(j);
    }
    m_store->enqueue_batch(batch);
    std::mutex mutex;
    std::vector<std::int64_t> seen;
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            auto store = open(false);
            std::string me = "w" + std::to_string(t);
            int idle = 0;
            while (idle < 50) {
                auto jobs = store->claim_batch({me, {}, {}, 5, 30000});
                if (jobs.empty()) {
                    ++idle;
                    std::this_thread::yield();
                    continue;
                }
                idle = 0;
                for (const auto& j : jobs) {
                    {
                        std::lock_guard<std::mutex> lock(mutex);
                        seen.push_back(j.id);
                    }
                    EXPECT_TRUE(test::complete(*store, {j.id, me, j.attempt}, std::nullopt));
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::int64_t> unique(seen.begin(), seen.end());
    EXPECT_EQ(seen.size(), unique.size()) << "a job was claimed twice";
    EXPECT_EQ(test::count_in_state(*m_store, JobState::completed), 300);
}

TEST_P(StoreSuite, WakerWakesOnEnqueueFromAnotherConnection) {
    auto waker = m_store->open_waker();
    auto other = open(false);
    std::thread producer([&] { other->enqueue(job("wake")); });
    bool woke = false;
    auto start = std::chrono::steady_clock::now();
    while (!woke && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) woke = waker->wait(500);
    producer.join();
    EXPECT_TRUE(woke);
}

// A closing worker interrupts its watchers so that they can wait long while idle: every
// waiter returns at once however long its timeout, whether the interrupt comes before the wait
// or during it (another thread), and every later wait returns at once too. Also behind a
// transaction pooler, where the PostgreSQL waiters poll instead of LISTENing.
TEST_P(StoreSuite, WaitersReturnAtOnceWhenInterrupted) {
    std::vector<std::unique_ptr<Store>> stores;
    stores.push_back(open(false));
    if (m_backend == "postgresql") {
        StoreOptions o;
        o.url = m_url;
        o.schema = m_schema;
        o.check_schema = false;
        o.pooler = "transaction";
        stores.push_back(open_store(o));
    }
    for (auto& store : stores) {
        std::vector<std::unique_ptr<Waker>> wakers;
        wakers.push_back(store->open_waker());
        wakers.push_back(store->open_control_waker());
        auto watcher = store->open_config_watcher();
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> waiting;
        std::atomic<int> woke{0};
        for (auto& w : wakers) waiting.emplace_back([&, raw = w.get()] { woke += raw->wait(60000) ? 1 : 0; });
        waiting.emplace_back([&] { woke += watcher->poll(60000).empty() ? 0 : 1; });
        for (auto& w : wakers) w->interrupt();
        watcher->interrupt();
        for (auto& t : waiting) t.join();
        EXPECT_EQ(woke.load(), 0) << "an interrupted wait reports nothing";
        for (auto& w : wakers) EXPECT_FALSE(w->wait(60000));
        EXPECT_TRUE(watcher->poll(60000).empty());
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "a wait ran to its timeout";
    }
}

// After a claim whose reply was lost, a worker adopts the jobs its leases hold: its own
// running jobs, and no other.
TEST_P(StoreSuite, RunningJobsOfAreTheJobsUnderAWorkersLeases) {
    auto a = add(job("t")), b = add(job("t")), c = add(job("t"));
    ASSERT_EQ(claim("w1", 2).size(), 2u);
    ASSERT_EQ(claim("w2", 1).size(), 1u);
    auto mine = ids(m_store->running_jobs_of("w1"));
    std::sort(mine.begin(), mine.end());
    EXPECT_EQ(mine, (std::vector<std::int64_t>{a, b}));
    auto theirs = m_store->running_jobs_of("w2");
    ASSERT_EQ(ids(theirs), std::vector<std::int64_t>{c});
    EXPECT_EQ(theirs[0].state, JobState::running);
    EXPECT_EQ(theirs[0].lease_owner.value_or(""), "w2");
    EXPECT_EQ(theirs[0].attempt, 1);
    ASSERT_TRUE(test::complete(*m_store, {a, "w1", 1}, std::nullopt));
    EXPECT_EQ(ids(m_store->running_jobs_of("w1")), std::vector<std::int64_t>{b});
    EXPECT_TRUE(m_store->running_jobs_of("nobody").empty());
}

// A prefetched job waits in its worker for a free handler: the mark is compare-and-set on the
// lease like a renewal, and recording the job's outcome clears it.
TEST_P(StoreSuite, PrefetchedMarksFollowTheLease) {
    auto a = add(job("t")), b = add(job("t"));
    ASSERT_EQ(claim("w1", 2).size(), 2u);
    m_store->set_prefetched({{a, "w1", 1}, {b, "intruder", 1}}, true);
    EXPECT_TRUE(m_store->get_job(a)->prefetched);
    EXPECT_FALSE(m_store->get_job(b)->prefetched) << "not its lease";
    m_store->set_prefetched({{a, "w1", 1}}, false);
    EXPECT_FALSE(m_store->get_job(a)->prefetched);
    m_store->set_prefetched({{a, "w1", 1}, {b, "w1", 1}}, true);
    ASSERT_TRUE(test::release(*m_store, {a, "w1", 1}, "given back"));
    EXPECT_FALSE(m_store->get_job(a)->prefetched) << "an outcome clears it";
    EXPECT_TRUE(m_store->get_job(b)->prefetched);
    m_store->set_prefetched({}, true);  // nothing to mark
}

}  // namespace
}  // namespace wfq
