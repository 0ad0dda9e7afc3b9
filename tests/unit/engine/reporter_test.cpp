// The reporter and the slot table: an attempt's verdict becomes the stats, the retry list and the
// heartbeat's document, and frees the job's slot.
#include "engine/reporter.h"

#include <wfq/clock.h>
#include <wfq/log.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace wfq::engine {
namespace {

struct ReporterRig {
    ManualClock clock;
    DefaultRandom random{1};
    Tracer tracer{TracerOptions{}, random};
    WorkerMetrics metrics;
    SlotTable table{"w1", 30000, 2, 0, 0};
    Reporter reporter{table, metrics, nullptr, tracer, clock, "", "w1"};

    Finished claim_and_finish(std::int64_t id, Decision decision, Outcome::Kind kind, std::int64_t delay_ms = 0) {
        Job j;
        j.id = id;
        j.type = "t";
        j.attempt = 1;
        table.hand_out({j}, 0, 1, 2, clock.steady_ns());
        SlotTable::Ready item;
        EXPECT_TRUE(table.next_ready(item));
        table.executor_free(1'000'000);
        Finished f;
        f.slot = item.second;
        f.verdict.decision = decision;
        Outcome o;
        o.job = f.slot->ref;
        o.kind = kind;
        o.delay_ms = delay_ms;
        f.verdict.outcome = o;
        return f;
    }
};

TEST(Reporter, CountsEachDecisionAndFreesTheSlot) {
    ReporterRig rig;
    rig.table.track_retries(true);  // a worker that ends by itself (--until-empty)
    auto done = rig.claim_and_finish(1, Decision::completed, Outcome::Kind::completed);
    auto retry = rig.claim_and_finish(2, Decision::retried, Outcome::Kind::retry, 5000);
    auto lost = rig.claim_and_finish(3, Decision::completed, Outcome::Kind::completed);
    EXPECT_EQ(rig.table.held(), 3u);
    rig.reporter.recorded(done, *done.verdict.outcome, OutcomeStatus::recorded, false);
    rig.reporter.recorded(retry, *retry.verdict.outcome, OutcomeStatus::recorded, false);
    rig.reporter.recorded(lost, *lost.verdict.outcome, OutcomeStatus::lost, false);
    EXPECT_EQ(rig.table.held(), 0u);
    WorkerStats s = rig.table.stats();
    EXPECT_EQ(s.claimed, 3);
    EXPECT_EQ(s.completed, 1);
    EXPECT_EQ(s.retried, 1);
    EXPECT_EQ(s.lost, 1) << "a lost lease counts as lost, whatever the handler said";
    rig.table.fill_retries(s, rig.clock.steady_ns() / 1'000'000);
    EXPECT_EQ(s.retrying_later, 1);
    EXPECT_EQ(s.next_retry_in_ms, 5000);
    auto stats = nlohmann::json::parse(rig.reporter.stats_json());
    EXPECT_EQ(stats["completed"], 1);
    EXPECT_EQ(stats["retried"], 1);
    EXPECT_EQ(stats["lost"], 1);
    EXPECT_FALSE(stats.contains("cache")) << "no config cache";
}

TEST(Reporter, AnAttemptWithNothingToRecordIsLost) {
    ReporterRig rig;
    auto f = rig.claim_and_finish(7, Decision::lost, Outcome::Kind::completed);
    rig.reporter.lost(*f.slot, Verdict{});
    EXPECT_EQ(rig.table.held(), 0u);
    EXPECT_EQ(rig.table.stats().lost, 1);
}

TEST(Reporter, TheLogLineSaysWhatEndedAFailedAttempt) {
    ReporterRig rig;
    auto f = rig.claim_and_finish(8, Decision::failed, Outcome::Kind::failed);
    f.verdict.error_class = "exit_code";
    f.verdict.trace_id = "0af7651916cd43dd8448eb211c80319c";
    // The completer records the outcome it took out of the verdict and hands it back beside it.
    Outcome recorded = std::move(*f.verdict.outcome);
    recorded.exit_code = 3;
    recorded.ended_by = "exit code 3";
    log::configure("info", "text");
    testing::internal::CaptureStderr();
    rig.reporter.recorded(f, recorded, OutcomeStatus::recorded, false);
    std::string line = testing::internal::GetCapturedStderr();
    EXPECT_NE(line.find("job failed; attempts exhausted"), std::string::npos) << line;
    EXPECT_NE(line.find("trace_id=0af7651916cd43dd8448eb211c80319c"), std::string::npos) << line;
    EXPECT_NE(line.find("exit_code=3"), std::string::npos) << line;
    EXPECT_NE(line.find("ended_by"), std::string::npos) << line;
    EXPECT_NE(line.find("error_class=exit_code"), std::string::npos) << line;
    EXPECT_EQ(rig.table.stats().failed, 1);
}

TEST(Reporter, NamesEveryDecision) {
    EXPECT_EQ(decision_name(Decision::completed), "completed");
    EXPECT_EQ(decision_name(Decision::retried), "retried");
    EXPECT_EQ(decision_name(Decision::failed), "failed");
    EXPECT_EQ(decision_name(Decision::snoozed), "snoozed");
    EXPECT_EQ(decision_name(Decision::parked), "parked");
    EXPECT_EQ(decision_name(Decision::deferred), "deferred");
    EXPECT_EQ(decision_name(Decision::released), "released");
    EXPECT_EQ(decision_name(Decision::lost), "lost");
}

TEST(Reporter, OnlyAWorkerThatEndsByItselfRemembersRetries) {
    // A long-lived worker never reports them, and would keep one entry per retry forever.
    ReporterRig rig;
    auto retry = rig.claim_and_finish(2, Decision::retried, Outcome::Kind::retry, 5000);
    rig.reporter.recorded(retry, *retry.verdict.outcome, OutcomeStatus::recorded, false);
    WorkerStats s = rig.table.stats();
    EXPECT_EQ(s.retried, 1);
    rig.table.fill_retries(s, rig.clock.steady_ns() / 1'000'000);
    EXPECT_EQ(s.retrying_later, 0);
}

}  // namespace
}  // namespace wfq::engine
