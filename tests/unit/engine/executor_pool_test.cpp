// The executor pool: claimed jobs run through their handler on the pool's threads, and their
// verdicts reach the completer (and from it the fake store) or, with nothing to record, the reporter.
#include "engine/executor_pool.h"

#include "../../support/fake_store.h"

#include <gtest/gtest.h>

namespace wfq::engine {
namespace {

class ScriptedHandler final : public Handler {
public:
    HandlerResult run(const Job& job, const std::atomic<bool>&) override {
        HandlerResult r;
        if (job.type == "fail") {
            r.outcome = HandlerResult::Outcome::failure;
            r.exit_code = 3;
        } else if (job.type == "cancelled") {
            r.outcome = HandlerResult::Outcome::cancelled;  // its lease was lost meanwhile
        }
        return r;
    }
};

class NoClaims final : public ClaimSource {
public:
    Reservation reserve_for_flush() override { return Reservation{}; }
    void flushed(const Reservation&, std::vector<Job>) override {}
};

TEST(ExecutorPool, RunsClaimedJobsAndHandsTheirVerdictsOn) {
    ManualClock clock;
    DefaultRandom random(3);
    test::FakeStore store(clock);
    for (const char* type : {"ok", "fail", "cancelled"}) {
        Job j;
        j.type = type;
        j.run_at = clock.now_ms();
        store.add_job(j);
    }
    Tracer tracer(TracerOptions{}, random);
    WorkerMetrics metrics;
    OutageMonitor outage(clock, 60000, "w1");
    SlotTable table("w1", 30000, 2, 0, 0);
    Reporter reporter(table, metrics, nullptr, tracer, clock, "", "w1");
    NoClaims claims;
    Completer completer(store, claims,
                        [&](const Finished& f, const Outcome& o, OutcomeStatus s, bool u) { reporter.recorded(f, o, s, u); },
                        outage, Completer::Options{});
    WorkerOptions options;
    options.resolve_config = false;
    ScriptedHandler handler;
    Executor executor(handler, tracer, store, nullptr, options, clock, random, "w1");
    ExecutorPool pool(table, executor, completer, reporter);

    table.hand_out(store.claim_batch(ClaimRequest{"w1", {}, {}, 3, 30000}), 0, 1, 2, clock.steady_ns());
    completer.start();
    pool.start(2);
    table.drain([] { return false; });  // every job's verdict is reported
    table.close();
    pool.join();
    completer.stop();

    WorkerStats s = table.stats();
    EXPECT_EQ(s.completed, 1);
    EXPECT_EQ(s.retried, 1);
    EXPECT_EQ(s.lost, 1) << "a cancelled handler with the worker running: its lease is gone";
    ASSERT_EQ(store.recorded.size(), 2u) << "nothing is recorded for the lost job";
    EXPECT_EQ(store.job(1).state, JobState::completed);
    EXPECT_EQ(store.job(2).state, JobState::pending);
    EXPECT_EQ(store.job(3).state, JobState::running) << "left to the rescuer";
}

TEST(ExecutorPool, AJobNotStartedWhenTheWorkerStopsGoesBackUntouched) {
    ManualClock clock;
    DefaultRandom random(3);
    test::FakeStore store(clock);
    Job j;
    j.type = "ok";
    j.run_at = clock.now_ms();
    store.add_job(j);
    Tracer tracer(TracerOptions{}, random);
    WorkerMetrics metrics;
    OutageMonitor outage(clock, 60000, "w1");
    SlotTable table("w1", 30000, 1, 0, 0);
    Reporter reporter(table, metrics, nullptr, tracer, clock, "", "w1");
    NoClaims claims;
    Completer completer(store, claims,
                        [&](const Finished& f, const Outcome& o, OutcomeStatus s, bool u) { reporter.recorded(f, o, s, u); },
                        outage, Completer::Options{});
    WorkerOptions options;
    options.resolve_config = false;
    ScriptedHandler handler;
    Executor executor(handler, tracer, store, nullptr, options, clock, random, "w1");
    ExecutorPool pool(table, executor, completer, reporter);

    table.hand_out(store.claim_batch(ClaimRequest{"w1", {}, {}, 1, 30000}), 0, 1, 2, clock.steady_ns());
    table.release_waiting();  // a signal: jobs not started go back at once
    completer.start();
    pool.start(1);
    table.drain([] { return false; });
    table.close();
    pool.join();
    completer.stop();
    ASSERT_EQ(store.recorded.size(), 1u);
    EXPECT_EQ(store.recorded[0].kind, Outcome::Kind::released);
    EXPECT_FALSE(store.recorded[0].handler_ran) << "not a release --max-releases counts";
    EXPECT_EQ(table.stats().released, 1);
}

}  // namespace
}  // namespace wfq::engine
