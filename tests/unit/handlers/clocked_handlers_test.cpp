// The pipeline handler, the stream handler and LockHolder measure time on the Clock they are
// given: their deadlines are tested here by moving a clock, not by sleeping.
#include "../../support/fake_store.h"

#include <wfq/lock.h>
#include <wfq/pipeline.h>
#include <wfq/stream_handler.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>

namespace wfq {
namespace {

// A clock whose first reading is its start and every later one jump_ms after it: whatever waits
// for a deadline of less than jump_ms sees it pass at its first look.
class JumpingClock final : public Clock {
public:
    explicit JumpingClock(std::int64_t jump_ms) : m_jump_ns(jump_ms * 1'000'000) {}
    TimeMs now_ms() const override { return 1'700'000'000'000 + steady_ns() / 1'000'000; }
    std::int64_t steady_ns() const override { return m_reads++ == 0 ? 0 : m_jump_ns; }

private:
    std::int64_t m_jump_ns;
    mutable std::atomic<int> m_reads{0};
};

Job pipeline_job() {
    Job job;
    job.id = 1;
    job.type = "build";
    job.payload = "{}";
    job.attempt = 1;
    job.lease_owner = "w1";
    return job;
}

TEST(PipelineHandler, StageTimeoutsComeFromTheWorkflowDeadlineOnItsClock) {
    ManualClock clock;
    test::FakeStore store(clock);
    // Each stage starts 9 s after the previous one, as the clock says.
    store.on_set_current_stage = [&](const std::string&) { clock.advance_ms(9000); };
    Workflow wf = parse_workflow(R"({"type": "build", "timeout": "10s", "stages": [
        {"name": "one", "exec": ["/bin/sh", "-c", "cat"]},
        {"name": "two", "exec": ["/bin/sh", "-c", "exec sleep 30"]}]})",
                                 "build.json");
    ExecHandlerOptions base;
    base.kill_grace_ms = 100;
    auto handler = make_pipeline_handler(store, {wf}, base, nullptr, clock);
    std::atomic<bool> cancel{false};
    HandlerResult r = handler->run(pipeline_job(), cancel);
    EXPECT_EQ(store.stages, (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(r.outcome, HandlerResult::Outcome::timeout) << r.error;
    EXPECT_EQ(r.ended_by, "stage two: timeout after 1ms") << "18 s into a 10 s workflow: the least timeout";
    EXPECT_EQ(r.error.rfind("stage two: timed out after 1ms", 0), 0u) << r.error;
    ASSERT_EQ(r.stage_seconds.size(), 1u);
    EXPECT_EQ(r.stage_seconds[0], 0.0) << "stage one took no time on the clock";
    EXPECT_EQ(store.checkpoints[1].size(), 1u) << "stage one's context was kept";
}

TEST(PipelineHandler, AStageThatFailsReadsLikeAnExecHandlerPrefixedWithItsName) {
    ManualClock clock;
    test::FakeStore store(clock);
    Workflow wf = parse_workflow(R"({"type": "build", "stages": [
        {"name": "one", "exec": ["/bin/sh", "-c", "echo broken >&2; exit 4"]}]})",
                                 "build.json");
    auto handler = make_pipeline_handler(store, {wf}, ExecHandlerOptions{}, nullptr, clock);
    std::atomic<bool> cancel{false};
    HandlerResult r = handler->run(pipeline_job(), cancel);
    EXPECT_EQ(r.outcome, HandlerResult::Outcome::failure);
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(r.error.rfind("stage one: broken", 0), 0u) << r.error;
}

TEST(StreamHandler, AJobsDeadlineIsOnTheHandlersClock) {
    std::signal(SIGPIPE, SIG_IGN);
    JumpingClock clock(2 * 3600 * 1000);  // two hours pass at once
    StreamHandlerOptions o;
    o.command = {"/bin/sh", "-c", "while IFS= read -r line; do :; done"};  // never answers
    o.timeout_ms = 3600 * 1000;
    o.grace_ms = 1000;
    auto handler = make_stream_handler(o, clock);
    Job job = pipeline_job();
    std::atomic<bool> cancel{false};
    HandlerResult r = handler->run(job, cancel);
    EXPECT_EQ(r.outcome, HandlerResult::Outcome::timeout);
    EXPECT_EQ(r.error, "timed out after 1h (stream handler)");
}

TEST(LockHolder, LosesALockItCouldNotRenewForAWholeTtlOnItsClock) {
    ManualClock store_clock;
    test::FakeStore store(store_clock);
    auto grant = store.lock_acquire("k", "me", 300);
    ASSERT_TRUE(grant);
    store.fail_renewals = true;  // the database is unreachable
    JumpingClock clock(300);     // and a whole TTL passes before the first renewal
    std::mutex m;
    std::condition_variable cv;
    std::string why;
    LockHolder holder(
        store, *grant, 300,
        [&](const std::string& reason) {
            std::lock_guard<std::mutex> lock(m);
            why = reason;
            cv.notify_all();
        },
        clock);
    std::unique_lock<std::mutex> lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !why.empty(); }));
    EXPECT_EQ(why.rfind("could not renew for a whole TTL", 0), 0u) << why;
    EXPECT_TRUE(holder.lost());
}

}  // namespace
}  // namespace wfq
