// The lease keeper against the fake store, one pass at a time on a ManualClock.
#include "engine/lease_keeper.h"

#include "../../support/fake_store.h"

#include <gtest/gtest.h>

namespace wfq::engine {
namespace {

struct KeeperRig {
    ManualClock clock;
    test::FakeStore store{clock};
    OutageMonitor outage{clock, 60000, "w1"};
    SlotTable table{"w1", 30000, 2, 0, 0};
    LeaseKeeper keeper{store, table, outage, clock, 30000, 10000, "w1", [] { return std::string("{\"claimed\":1}"); }};

    std::shared_ptr<Slot> held_job() {
        Job j;
        j.type = "t";
        j.state = JobState::running;
        j.lease_owner = "w1";
        j.attempt = 1;
        const auto id = store.add_job(j);
        auto slot = std::make_shared<Slot>();
        slot->ref = JobRef{id, "w1", 1};
        slot->claimed_steady_ns = clock.steady_ns();
        return slot;
    }
    std::int64_t now() const { return clock.steady_ns() / 1'000'000; }
};

TEST(LeaseKeeper, RenewsAndBeatsOnItsOwnTimer) {
    KeeperRig rig;
    auto slot = rig.held_job();
    std::int64_t next = rig.keeper.pass(rig.now(), {slot});
    EXPECT_EQ(rig.store.heartbeats, std::vector<std::string>{"{\"claimed\":1}"});
    EXPECT_EQ(rig.store.job(slot->ref.id).lease_expires_at, rig.clock.now_ms() + 30000);
    EXPECT_EQ(next, rig.now() + LeaseKeeper::kPrefetchMarkMs) << "prefetched marks are looked at each second";
    rig.clock.advance_ms(1000);
    rig.keeper.pass(rig.now(), {slot});
    EXPECT_EQ(rig.store.heartbeats.size(), 1u) << "the next renewal waits for the heartbeat period";
    rig.clock.advance_ms(9000);
    rig.keeper.pass(rig.now(), {slot});
    EXPECT_EQ(rig.store.heartbeats.size(), 2u);
    EXPECT_FALSE(slot->cancel);
}

TEST(LeaseKeeper, StopsTheHandlerOfALostLease) {
    KeeperRig rig;
    auto slot = rig.held_job();
    rig.store.take_lease(slot->ref.id);
    rig.keeper.pass(rig.now(), {slot});
    EXPECT_TRUE(slot->lost);
    EXPECT_TRUE(slot->cancel);
}

TEST(LeaseKeeper, AnOperatorsCancelRenewsAtOnce) {
    KeeperRig rig;
    auto slot = rig.held_job();
    rig.keeper.pass(rig.now(), {slot});
    rig.store.take_lease(slot->ref.id);  // cancelled by an operator
    rig.table.request_renewal();
    rig.keeper.pass(rig.now(), {slot});
    EXPECT_TRUE(slot->cancel) << "not at the next heartbeat: now";
}

TEST(LeaseKeeper, DuringAnOutageRetriesSoonerAndStopsExpiredLeases) {
    KeeperRig rig;
    auto slot = rig.held_job();
    slot->lease_until_ns = rig.clock.steady_ns() + 2'000'000'000;
    rig.store.on_renew = [] { throw Error(ErrorCode::db_unavailable, "connection refused"); };
    std::int64_t next = rig.keeper.pass(rig.now(), {slot});
    EXPECT_TRUE(rig.outage.in_outage());
    EXPECT_TRUE(rig.store.heartbeats.empty()) << "no heartbeat while the renewal cannot reach the database";
    EXPECT_EQ(next, rig.now() + 500) << "the renewal is retried sooner than a heartbeat";
    EXPECT_FALSE(slot->cancel);
    rig.clock.advance_ms(2000);
    rig.keeper.pass(rig.now(), {slot});
    EXPECT_TRUE(slot->cancel) << "its lease ran out unrenewed: the handler stops";
}

TEST(LeaseKeeper, MarksJobsWaitingForAHandlerAsPrefetched) {
    KeeperRig rig;
    auto waiting = rig.held_job(), started = rig.held_job();
    started->started = true;
    rig.keeper.pass(rig.now(), {waiting, started});
    EXPECT_TRUE(rig.store.prefetched_marks.empty()) << "claimed a moment ago: no write";
    rig.clock.advance_ms(1000);
    rig.keeper.pass(rig.now(), {waiting, started});
    EXPECT_EQ(rig.store.prefetched_marks, (std::vector<std::pair<std::int64_t, bool>>{{waiting->ref.id, true}}));
    waiting->started = true;
    rig.clock.advance_ms(1000);
    rig.keeper.pass(rig.now(), {waiting, started});
    EXPECT_EQ(rig.store.prefetched_marks.back(), (std::pair<std::int64_t, bool>{waiting->ref.id, false}))
        << "a handler took it: the mark goes";
}

}  // namespace
}  // namespace wfq::engine
