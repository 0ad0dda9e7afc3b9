// The claimer against the fake store: claims for the free slots, hands jobs out through the slot
// table, serves the completer's piggybacked claims, adopts the jobs of a claim in doubt.
#include "engine/claimer.h"

#include "../../support/fake_store.h"

#include <gtest/gtest.h>

namespace wfq::engine {
namespace {

struct ClaimerRig {
    ManualClock clock;
    test::FakeStore store{clock};
    WorkerOptions options;
    OutageMonitor outage{clock, 60000, "w1"};
    WorkerMetrics metrics;
    SlotTable table;
    Claimer claimer;
    explicit ClaimerRig(WorkerOptions o, bool unkeyed_only = false)
        : options(std::move(o)),
          table("w1", options.lease_ms, options.concurrency, options.prefetch, options.max_jobs),
          claimer(store, table, outage, metrics, clock, options, "w1", unkeyed_only) {}
    void add(int n, const std::string& type = "t") {
        for (int i = 0; i < n; ++i) {
            Job j;
            j.type = type;
            j.run_at = clock.now_ms();
            store.add_job(j);
        }
    }
    std::vector<std::int64_t> ready_ids() {
        std::vector<std::int64_t> ids;
        SlotTable::Ready item;
        table.close();
        while (table.next_ready(item)) ids.push_back(item.first.id);
        return ids;
    }
};

WorkerOptions until_empty(int concurrency, int prefetch) {
    WorkerOptions o;
    o.concurrency = concurrency;
    o.prefetch = prefetch;
    o.until_empty = true;
    o.poll_ms = 1000;
    return o;
}

TEST(Claimer, ClaimsForTheFreeSlotsAndHandsTheJobsOut) {
    WorkerOptions o = until_empty(2, 1);
    o.max_jobs = 2;  // no executor runs here: the claimer ends once it holds both
    ClaimerRig rig(o);
    rig.add(2);
    std::atomic<bool> stop{false};
    bool interrupted = false;
    test::FakeWaker waker;
    rig.claimer.run(stop, rig.clock.steady_ns(), waker, interrupted);
    ASSERT_EQ(rig.store.claims.size(), 1u);
    EXPECT_EQ(rig.store.claims[0].limit, 2) << "two free executors plus a prefetch of one, capped by --max-jobs";
    EXPECT_EQ(rig.store.claims[0].worker_id, "w1");
    EXPECT_FALSE(interrupted);
    EXPECT_EQ(rig.table.stats().claimed, 2);
    EXPECT_EQ(rig.ready_ids(), (std::vector<std::int64_t>{1, 2}));
}

TEST(Claimer, AFullBatchIsFollowedByAnotherClaimAtOnce) {
    ClaimerRig rig(until_empty(4, 0));
    rig.add(2);
    std::atomic<bool> stop{false};
    rig.store.on_claim = [&](const ClaimRequest& r) {
        if (rig.store.claims.size() == 2) {
            EXPECT_EQ(r.limit, 2) << "the second claim asks for the slots still free";
            stop = true;
        }
    };
    bool interrupted = false;
    test::FakeWaker waker;
    rig.claimer.run(stop, rig.clock.steady_ns(), waker, interrupted);
    // The first claim (4) got 2 of 4 (not full, but jobs): claim again at once rather than idle.
    ASSERT_EQ(rig.store.claims.size(), 2u);
    EXPECT_EQ(rig.store.claims[0].limit, 4);
    EXPECT_TRUE(interrupted);
}

TEST(Claimer, ServesTheCompletersPiggybackedClaim) {
    ClaimerRig rig(until_empty(2, 0), /*unkeyed_only=*/true);
    rig.add(1);
    auto reservation = rig.claimer.reserve_for_flush();
    EXPECT_EQ(reservation.request.limit, 2);
    EXPECT_TRUE(reservation.request.unkeyed_only) << "a flush on its own connection claims no lock-keyed job";
    EXPECT_EQ(rig.claimer.reserve_for_flush().request.limit, 0) << "the slots are reserved until the flush returns";
    std::vector<Job> claimed;
    rig.store.record_outcomes_and_claim({}, reservation.request, claimed);
    rig.claimer.flushed(reservation, claimed);
    EXPECT_EQ(rig.table.stats().claimed, 1);
    EXPECT_EQ(rig.ready_ids(), std::vector<std::int64_t>{1});
}

TEST(Claimer, AdoptsTheJobsOfAClaimInDoubt) {
    WorkerOptions o = until_empty(2, 0);
    o.max_jobs = 2;
    ClaimerRig rig(o);
    rig.add(2);
    rig.store.on_claim = [&](const ClaimRequest& r) {
        if (rig.store.claims.size() > 1) return;
        for (auto& [id, j] : rig.store.jobs) {  // the claim commits, but its reply is lost
            j.state = JobState::running;
            j.lease_owner = r.worker_id;
            j.attempt = 1;
        }
        throw Error(ErrorCode::db_unavailable, "connection lost");
    };
    std::atomic<bool> stop{false};
    bool interrupted = false;
    test::FakeWaker waker;
    rig.claimer.run(stop, rig.clock.steady_ns(), waker, interrupted);
    EXPECT_FALSE(rig.outage.in_outage()) << "the adoption's read ended the outage";
    EXPECT_EQ(rig.table.stats().claimed, 2) << "the jobs the lost reply claimed are adopted, not left to the rescuer";
    EXPECT_EQ(rig.store.claims.size(), 1u) << "adopted, not claimed again";
}

TEST(Claimer, StopsWhenAskedAndSaysSo) {
    ClaimerRig rig(until_empty(1, 0));
    std::atomic<bool> stop{true};
    bool interrupted = false;
    test::FakeWaker waker;
    rig.claimer.run(stop, rig.clock.steady_ns(), waker, interrupted);
    EXPECT_TRUE(interrupted);
    EXPECT_TRUE(rig.store.claims.empty());
}

}  // namespace
}  // namespace wfq::engine
