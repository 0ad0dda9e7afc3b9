// Self-fencing of job leases, on a ManualClock, with the lease keeper's renewal blocked in the
// fake store as a silent network partition blocks it.
#include "engine/lease_fence.h"
#include "engine/lease_keeper.h"

#include "../../support/fake_store.h"

#include <wfq/fencing.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace wfq::engine {
namespace {

constexpr std::int64_t kLeaseMs = 5000;

struct FenceRig {
    ManualClock clock;
    test::FakeStore store{clock};
    OutageMonitor outage{clock, 60000, "w1"};
    SlotTable table{"w1", kLeaseMs, 2, 0, 0};
    LeaseKeeper keeper{store, table, outage, clock, kLeaseMs, kLeaseMs / 3, "w1", [] { return std::string("{}"); }};
    LeaseFence fence{table, outage, clock, kLeaseMs, kLeaseMs / 3, [this] { return keeper.renewal_since_ns(); }};

    std::shared_ptr<Slot> held_job() {
        Job j;
        j.type = "t";
        j.state = JobState::running;
        j.lease_owner = "w1";
        j.attempt = 1;
        auto slot = std::make_shared<Slot>();
        slot->ref = JobRef{store.add_job(j), "w1", 1};
        slot->claimed_steady_ns = clock.steady_ns();
        slot->lease_until_ns = clock.steady_ns() + kLeaseMs * 1'000'000;  // as SlotTable::hand_out sets it
        return slot;
    }
    std::int64_t now_ns() const { return clock.steady_ns(); }
};

TEST(LeaseFence, StopsAHandlerAtTheLocalDeadlineBeforeTheLeaseExpires) {
    FenceRig rig;
    auto slot = rig.held_job();
    const std::int64_t margin = fence_margin_ms(kLeaseMs);
    ASSERT_EQ(margin, 1000);
    EXPECT_EQ(rig.fence.check(rig.now_ns(), {slot}), rig.fence.deadline_ns(*slot)) << "wakes at the deadline";
    rig.clock.advance_ms(kLeaseMs - margin - 1);
    rig.fence.check(rig.now_ns(), {slot});
    EXPECT_FALSE(slot->cancel);
    rig.clock.advance_ms(1);
    rig.fence.check(rig.now_ns(), {slot});
    EXPECT_TRUE(slot->cancel) << "lease - margin after the claim, with no renewal";
    EXPECT_TRUE(slot->lost) << "left for rescue";
    // The SIGKILL that follows lands half a margin before the expiry.
    EXPECT_LE(kLeaseMs - margin + fence_kill_grace_ms(kLeaseMs), kLeaseMs - margin / 2);
}

TEST(LeaseFence, ARenewalThatSucceededMovesTheDeadlineFromWhenItWasSent) {
    FenceRig rig;
    auto slot = rig.held_job();
    rig.clock.advance_ms(3000);
    const std::int64_t sent = rig.now_ns();
    rig.store.on_renew = [&] { rig.clock.advance_ms(500); };  // the reply takes 500 ms
    ASSERT_TRUE(rig.keeper.renew({slot}));
    EXPECT_EQ(rig.fence.deadline_ns(*slot), sent + (kLeaseMs - fence_margin_ms(kLeaseMs)) * 1'000'000)
        << "from the start of the renewal, not its reply: the database's expiry is no earlier";
    rig.clock.advance_ms(kLeaseMs - fence_margin_ms(kLeaseMs) - 500 - 1);
    rig.fence.check(rig.now_ns(), {slot});
    EXPECT_FALSE(slot->cancel);
}

TEST(LeaseFence, ARenewalBlockedByASilentPartitionNeitherDelaysTheStopNorGoesUnlogged) {
    FenceRig rig;
    auto slot = rig.held_job();
    std::mutex m;
    std::condition_variable cv;
    bool inside = false, heal = false;
    rig.store.on_renew = [&] {  // blocks, as a call into a cut network does: no error, no answer
        std::unique_lock<std::mutex> lock(m);
        inside = true;
        cv.notify_all();
        cv.wait(lock, [&] { return heal; });
    };
    rig.clock.advance_ms(kLeaseMs / 3);
    std::thread keeper([&] { rig.keeper.renew({slot}); });
    {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return inside; });
    }
    EXPECT_NE(rig.keeper.renewal_since_ns(), 0);
    rig.clock.advance_ms(kLeaseMs / 3);
    rig.fence.check(rig.now_ns(), {slot});
    EXPECT_TRUE(rig.outage.in_outage()) << "a renewal that stopped answering starts the outage (logged once)";
    EXPECT_FALSE(slot->cancel);
    rig.clock.advance_ms(kLeaseMs - fence_margin_ms(kLeaseMs) - 2 * (kLeaseMs / 3));
    rig.fence.check(rig.now_ns(), {slot});
    EXPECT_TRUE(slot->cancel) << "stopped at the deadline while the renewal still hangs";
    {
        std::lock_guard<std::mutex> lock(m);
        heal = true;
    }
    cv.notify_all();
    keeper.join();
    EXPECT_EQ(rig.keeper.renewal_since_ns(), 0);
    EXPECT_FALSE(rig.outage.in_outage()) << "the renewal answered: the outage is over";
    EXPECT_TRUE(slot->lost) << "a renewal answering late does not revive a fenced job";
    rig.store.on_renew = nullptr;
    rig.clock.advance_ms(2000);
    EXPECT_TRUE(rig.keeper.renew({slot}));
    const std::int64_t until = slot->lease_until_ns;
    EXPECT_LT(until, rig.now_ns()) << "never renewed again: the job is left for rescue";
}

TEST(LeaseFence, LeavesAFinishingJobToTheCompleter) {
    FenceRig rig;
    auto slot = rig.held_job();
    slot->finishing = true;
    rig.clock.advance_ms(kLeaseMs);
    rig.fence.check(rig.now_ns(), {slot});
    EXPECT_FALSE(slot->cancel);
}

TEST(LeaseFence, EndsWhenTheWorkerClosesWithNoJob) {
    FenceRig rig;
    rig.table.close();
    rig.fence.run();  // returns at once
    SUCCEED();
}

}  // namespace
}  // namespace wfq::engine
