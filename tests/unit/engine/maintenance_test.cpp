// Maintenance against the fake store: the rescuer and the pruner each run under their singleton
// lease lock, on their own timers, and pause during an outage.
#include "engine/maintenance.h"
#include "engine/singleton_lock.h"

#include "../../support/fake_store.h"

#include <gtest/gtest.h>

namespace wfq::engine {
namespace {

struct MaintenanceRig {
    ManualClock clock;
    DefaultRandom random{1};
    test::FakeStore store{clock};
    OutageMonitor outage{clock, 60000, "w1"};
    Tracer tracer{TracerOptions{}, random};
    WorkerMetrics metrics;
    SlotTable table{"w1", 30000, 1, 0, 0};
    Reporter reporter{table, metrics, nullptr, tracer, clock, "", "w1"};
    WorkerOptions options;
    std::int64_t now() const { return clock.steady_ns() / 1'000'000; }
};

TEST(SingletonLock, RunsTheTaskUnderTheLockAndReleasesItEvenOnError) {
    ManualClock clock;
    test::FakeStore store(clock);
    bool ran = false;
    EXPECT_TRUE(run_as_singleton(store, "k", "me", 1000, [&] {
        EXPECT_EQ(store.locks.count("k"), 1u);
        ran = true;
    }));
    EXPECT_TRUE(ran);
    EXPECT_EQ(store.locks.count("k"), 0u);
    EXPECT_THROW(run_as_singleton(store, "k", "me", 1000, [] { throw std::runtime_error("boom"); }), std::runtime_error);
    EXPECT_EQ(store.locks.count("k"), 0u) << "released on the way out";
    store.lock_acquire("k", "other", 1000);
    ran = false;
    EXPECT_FALSE(run_as_singleton(store, "k", "me", 1000, [&] { ran = true; }));
    EXPECT_FALSE(ran) << "another owner holds it";
}

TEST(Maintenance, RescuesAndPrunesOnTheirOwnTimers) {
    MaintenanceRig rig;
    rig.options.rescue_interval_ms = 15000;
    rig.options.retention_ms = 60000;  // pruned every 6 s
    rig.options.schedule_interval_ms = 0;
    rig.options.heartbeat_ms = 10000;
    rig.store.rescue_report.requeued = {4, 5};
    Maintenance m(rig.store, rig.outage, rig.reporter, rig.clock, rig.options, "w1");
    std::int64_t next = m.pass(rig.now());
    EXPECT_EQ(rig.store.rescues, 1) << "at start";
    EXPECT_EQ(rig.store.prunes, 1);
    EXPECT_EQ(rig.store.lock_log, (std::vector<std::string>{"acquire wfq:retention", "release wfq:retention",
                                                             "acquire wfq:rescuer", "release wfq:rescuer"}));
    EXPECT_EQ(rig.table.stats().rescued, 2);
    EXPECT_EQ(next, rig.now() + 6000);
    rig.clock.advance_ms(6000);
    m.pass(rig.now());
    EXPECT_EQ(rig.store.prunes, 2);
    EXPECT_EQ(rig.store.rescues, 1);
    rig.clock.advance_ms(9000);
    m.pass(rig.now());
    EXPECT_EQ(rig.store.rescues, 2);
}

TEST(Maintenance, PausesDuringAnOutageAndSkipsWhatAnotherWorkerHolds) {
    MaintenanceRig rig;
    rig.options.retention_ms = 0;
    rig.options.schedule_interval_ms = 0;
    rig.outage.failed("claimer", "connection refused");
    Maintenance m(rig.store, rig.outage, rig.reporter, rig.clock, rig.options, "w1");
    m.pass(rig.now());
    EXPECT_EQ(rig.store.rescues, 0) << "no database work during an outage";
    rig.outage.ok();
    rig.store.lock_acquire("wfq:rescuer", "another-worker", 60000);
    rig.clock.advance_ms(rig.options.rescue_interval_ms);
    m.pass(rig.now());
    EXPECT_EQ(rig.store.rescues, 0) << "one rescuer at a time";
    EXPECT_EQ(rig.store.prunes, 0) << "no --retention: never";
}

TEST(Maintenance, PrunesTenTimesPerRetentionPeriodWithinBounds) {
    EXPECT_EQ(Maintenance::prune_every_ms(60000), 6000);
    EXPECT_EQ(Maintenance::prune_every_ms(5000), 1000);
    EXPECT_EQ(Maintenance::prune_every_ms(86'400'000), 60000);
}

}  // namespace
}  // namespace wfq::engine
