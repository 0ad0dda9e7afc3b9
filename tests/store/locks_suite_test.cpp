// Lease locks with fencing tokens, the lock holder, waiting to acquire; advisory locks.
// (The suite: store_suite.h.)
#include "store_suite.h"

#include <wfq/lock.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace wfq {
namespace {

TEST_P(StoreSuite, LeaseLocksUseGrowingFencingTokens) {
    auto a = m_store->lock_acquire("pr:1", "alice", 100);
    ASSERT_TRUE(a);
    EXPECT_FALSE(m_store->lock_acquire("pr:1", "bob", 100)) << "held";
    EXPECT_EQ(m_store->lock_renew("pr:1", a->token + 1, 100), LockStatus::not_held);
    EXPECT_EQ(m_store->lock_renew("nope", 1, 100), LockStatus::unknown_key);
    EXPECT_EQ(m_store->lock_renew("pr:1", a->token, 100), LockStatus::ok);
    advance(150);
    auto list = m_store->list_locks();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_TRUE(list[0].expired);
    EXPECT_EQ(m_store->lock_renew("pr:1", a->token, 100), LockStatus::not_held) << "expired";
    auto b = m_store->lock_acquire("pr:1", "bob", 10000);
    ASSERT_TRUE(b);
    EXPECT_GT(b->token, a->token);
    EXPECT_EQ(m_store->lock_release("pr:1", a->token), LockStatus::not_held) << "stale holder";
    EXPECT_EQ(m_store->lock_release("pr:1", b->token), LockStatus::ok);
    EXPECT_EQ(m_store->lock_release("pr:1", b->token), LockStatus::unknown_key);
    auto c = m_store->lock_acquire("pr:1", "carol", 10000);
    ASSERT_TRUE(c);
    EXPECT_GT(c->token, b->token);
}

TEST_P(StoreSuite, LockHolderRenewsAndReportsLossAtOnce) {
    auto holder_store = open(false);
    DefaultRandom random(7);
    auto grant = acquire_lock(*m_store, "held", {300, 0, "me"}, m_clock, random);
    ASSERT_TRUE(grant);
    std::mutex mutex;
    std::condition_variable cv;
    std::string reason;
    LockHolder holder(*holder_store, *grant, 300, [&](const std::string& why) {
        std::lock_guard<std::mutex> lock(mutex);
        reason = why;
        cv.notify_all();
    });
    // While renewed, nobody else gets it even after several TTLs of real time.
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        EXPECT_FALSE(m_store->lock_acquire("held", "thief", 300)) << "renewals keep it";
    }
    EXPECT_FALSE(holder.lost());
    // A pause longer than the TTL (the holder cannot renew in time): someone else takes it.
    auto other = open(false);
    std::optional<LockGrant> stolen;
    for (int i = 0; i < 100 && !stolen; ++i) {
        m_clock.advance_ms(1000);  // SQLite: time jumps; PostgreSQL: we race the holder's renewals
        stolen = other->lock_acquire("held", "thief", 60000);
        if (!stolen && m_backend == "postgresql") break;
    }
    if (m_backend == "postgresql") GTEST_SKIP() << "the database clock cannot be moved past a live holder";
    ASSERT_TRUE(stolen);
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return !reason.empty(); }));
    EXPECT_NE(reason.find("taken over"), std::string::npos) << reason;
    EXPECT_TRUE(holder.lost());
    lock.unlock();
    EXPECT_EQ(holder.release(), LockStatus::not_held);
    EXPECT_GT(stolen->token, grant->token);
}

TEST_P(StoreSuite, AcquireWaitsWithBackoffUntilTheDeadline) {
    DefaultRandom random(1);
    ASSERT_TRUE(m_store->lock_acquire("busy", "a", 600000));
    std::vector<std::int64_t> pauses;
    ManualClock steady;
    auto got = acquire_lock(*m_store, "busy", {1000, 2000, "b"}, steady, random, [&](std::int64_t ms) {
        pauses.push_back(ms);
        steady.advance_ms(ms);
    });
    EXPECT_FALSE(got);
    ASSERT_GE(pauses.size(), 3u);
    std::int64_t total = 0;
    for (auto p : pauses) total += p;
    EXPECT_EQ(total, 2000) << "waits exactly up to the deadline";
    EXPECT_LT(pauses[0], pauses[2]) << "backs off";
    EXPECT_THROW(acquire_lock(*m_store, "", {1000, 0, "b"}, steady, random), Error);
}

// Advisory locks (PostgreSQL): one session holds a key until it closes. SQLite has none.
TEST_P(StoreSuite, AdvisoryLocksAreHeldByOneSession) {
    const std::string key = "store-suite-advisory-" + std::to_string(getpid());
    if (m_backend == "sqlite") {
        try {
            m_store->try_advisory_lock(key);
            FAIL() << "expected Error(usage)";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::usage);
        }
        return;
    }
    auto held = m_store->try_advisory_lock(key);
    ASSERT_TRUE(held);
    EXPECT_TRUE(held->alive());
    EXPECT_FALSE(m_store->try_advisory_lock(key)) << "held by another session";
    held.reset();
    std::unique_ptr<AdvisoryLock> again;
    for (int i = 0; i < 100 && !again; ++i) {
        again = m_store->try_advisory_lock(key);
        if (!again) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(again) << "free once its session closed";
}

}  // namespace
}  // namespace wfq
