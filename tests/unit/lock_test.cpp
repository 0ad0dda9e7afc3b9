// Self-fencing of lease and advisory locks: LockHolder's local deadline and `lock run` stopping its command
// when that deadline passes, whatever the database does (time moved on a ManualClock).
#include "../support/fake_store.h"

#include <wfq/errors.h>
#include <wfq/fencing.h>
#include <wfq/lock.h>
#include <wfq/trace.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <unistd.h>

namespace wfq {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;  // no renewal happens while a test runs

TEST(LockHolder, HasALocalDeadlineOfTtlLessTheMarginFromTheAcquire) {
    ManualClock clock;
    test::FakeStore store(clock);
    const std::int64_t acquired_ns = clock.steady_ns();
    auto grant = store.lock_acquire("k", "me", kHourMs);
    ASSERT_TRUE(grant);
    clock.advance_ms(10);  // the holder starts a little after the acquire was sent
    LockHolder holder(store, *grant, kHourMs, [](const std::string&) {}, clock, acquired_ns);
    EXPECT_EQ(holder.fence_deadline_ns(), acquired_ns + (kHourMs - fence_margin_ms(kHourMs)) * 1'000'000);
    clock.advance_ms(kHourMs - fence_margin_ms(kHourMs) - 11);
    EXPECT_FALSE(holder.fence_passed(clock.steady_ns()));
    clock.advance_ms(1);
    EXPECT_TRUE(holder.fence_passed(clock.steady_ns()));
}

// A session that always answers: the test moves the clock, no check is due meanwhile.
struct AnsweringSession final : AdvisoryLock {
    bool alive() override { return true; }
};

// An advisory lock has no expiry in the database, but its session ends once the server has heard
// nothing for kAdvisorySilentSessionMs: the local deadline keeps the holder inside that window.
TEST(LockHolder, AnAdvisoryLockHasALocalDeadlineWithinTheServersSilentSessionWindow) {
    for (std::int64_t ttl_ms : {std::int64_t(3000), kHourMs}) {
        SCOPED_TRACE(ttl_ms);
        ManualClock clock;
        const std::int64_t acquired_ns = clock.steady_ns();
        clock.advance_ms(10);
        LockHolder holder(std::make_unique<AnsweringSession>(), ttl_ms, [](const std::string&) {}, clock, acquired_ns);
        const std::int64_t window = std::min(ttl_ms, kAdvisorySilentSessionMs);
        EXPECT_EQ(holder.fence_deadline_ns(), acquired_ns + (window - fence_margin_ms(window)) * 1'000'000);
        EXPECT_LT(window - fence_margin_ms(window) + fence_kill_grace_ms(window), kAdvisorySilentSessionMs);
        clock.advance_ms(window - fence_margin_ms(window) - 11);
        EXPECT_FALSE(holder.fence_passed(clock.steady_ns()));
        clock.advance_ms(1);
        EXPECT_TRUE(holder.fence_passed(clock.steady_ns()));
    }
}

TEST(LockRun, StopsTheCommandAtTheLocalDeadlineAndSaysSo) {
    ManualClock clock;
    test::FakeStore store(clock);
    DefaultRandom random(7);
    Tracer tracer(TracerOptions{}, random);
    const std::string started = std::filesystem::temp_directory_path() / ("wfq-lock-fence-" + std::to_string(getpid()));
    std::remove(started.c_str());
    LockedRunOptions o;
    o.key = "k";
    o.owner = "me";
    o.ttl_ms = kHourMs;
    o.command = {"sh", "-c", "echo > \"$0\"; exec sleep 60", started};
    std::atomic<bool> stop{false};
    // The database never answers again (no renewal is due for an hour anyway); the clock moves
    // past the deadline once the command runs.
    std::thread mover([&] {
        while (!std::filesystem::exists(started)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        clock.advance_ms(kHourMs - fence_margin_ms(kHourMs));
    });
    const auto t0 = std::chrono::steady_clock::now();
    try {
        run_with_lock(store, tracer, o, clock, random, stop);
        ADD_FAILURE() << "lock run should end with lock_conflict";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::lock_conflict);
        const std::string what = e.what();
        EXPECT_NE(what.find("self-fencing"), std::string::npos) << what;
        EXPECT_NE(what.find("the command was stopped"), std::string::npos) << what;
    }
    mover.join();
    std::remove(started.c_str());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30)) << "not sleep's natural end (60 s)";
}

}  // namespace
}  // namespace wfq
