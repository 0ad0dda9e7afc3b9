// Unit tests of the worker engine's claim policy, completer and executor, against the fake
// store and a ManualClock (no sleeps).
#include "engine/claim_policy.h"
#include "engine/completer.h"
#include "engine/executor.h"
#include "engine/executor_pool.h"
#include "engine/outage.h"
#include "engine/reporter.h"
#include "engine/slot_table.h"

#include "../support/fake_store.h"

#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/trace.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace wfq::engine {
namespace {

Finished completed(std::int64_t id) {
    Outcome o;
    o.job = JobRef{id, "w1", 1};
    o.kind = Outcome::Kind::completed;
    Finished f;
    f.slot = std::make_shared<Slot>();
    f.slot->ref = o.job;
    f.verdict.decision = Decision::completed;
    f.verdict.outcome = std::move(o);
    return f;
}

// No claim rides on the flushes.
class NoClaims final : public ClaimSource {
public:
    Reservation reserve_for_flush() override { return Reservation{}; }
    void flushed(const Reservation&, std::vector<Job>) override {}
};

// The fake store records through on_record.
struct Recording {
    ManualClock clock;
    test::FakeStore store{clock};
    NoClaims claims;
    template <typename F>
    explicit Recording(F record) {
        store.on_record = [record](const std::vector<Outcome>& batch, const ClaimRequest&, std::vector<Job>&) {
            return record(batch);
        };
    }
};

TEST(ClaimPolicy, AsksForFreeSlotsPlusPrefetch) {
    ClaimPolicy c(4, 2);
    EXPECT_EQ(c.limit(0, 0), 6);
    EXPECT_EQ(c.limit(4, 0), 0) << "no free executor: nothing is claimed to sit idle";
    EXPECT_EQ(c.limit(3, 0), 3) << "nothing waits: claim for the free slot at once, plus prefetch";
    EXPECT_EQ(c.limit(3, 3), 0) << "at most prefetch jobs wait";
    EXPECT_EQ(c.limit(2, 3), 0) << "jobs still wait: one free slot is not worth a claim";
    EXPECT_EQ(c.limit(3, 2), 0);
    EXPECT_EQ(c.limit(1, 2), 3) << "half the capacity free: claim it in one batch";
    EXPECT_EQ(c.limit(1, 0), 5);
}

TEST(ClaimPolicy, AdaptivePrefetchFollowsHowFastHandlersFinish) {
    ClaimPolicy c(4, -1);
    EXPECT_EQ(c.prefetch(), 4) << "starts at min(concurrency, 16)";
    for (int i = 0; i < 100; ++i) c.observe(20'000);  // 20 us handlers: 4 executors finish 1,000 in 5 ms
    EXPECT_EQ(c.prefetch(), ClaimPolicy::kMaxPrefetch);
    EXPECT_EQ(c.limit(0, 0), 4 + ClaimPolicy::kMaxPrefetch);
    for (int i = 0; i < 100; ++i) c.observe(1'000'000'000);  // 1 s handlers: back to the least prefetch
    EXPECT_EQ(c.prefetch(), 4);
    for (int i = 0; i < 200; ++i) c.observe(200'000);  // 0.2 ms: 4 x 5 ms / 0.2 ms = 100 jobs
    EXPECT_NEAR(c.prefetch(), 100, 2);
    ClaimPolicy fixed(4, 2);
    for (int i = 0; i < 100; ++i) fixed.observe(1'000);
    EXPECT_EQ(fixed.prefetch(), 2) << "--prefetch N is kept as given";
}

struct Recorded {
    std::mutex mutex;
    std::vector<std::pair<std::int64_t, OutcomeStatus>> done;
    std::vector<bool> unknown;
};

TEST(Completer, BatchesWhatArrivesWhileAFlushIsInTheDatabase) {
    ManualClock clock;
    OutageMonitor outage(clock, 60000, "w1");
    std::mutex m;
    std::condition_variable cv;
    bool first_in_db = false, release_first = false;
    std::vector<std::size_t> batch_sizes;
    Recorded rec;
    Recording recording([&](const std::vector<Outcome>& batch) {
            std::unique_lock<std::mutex> lock(m);
            batch_sizes.push_back(batch.size());
            if (batch_sizes.size() == 1) {
                first_in_db = true;
                cv.notify_all();
                cv.wait(lock, [&] { return release_first; });
            }
            return std::vector<OutcomeStatus>(batch.size(), OutcomeStatus::recorded);
        });
    Completer completer(recording.store, recording.claims, [&](const Finished&, const Outcome& o, OutcomeStatus s, bool unknown) {
            std::lock_guard<std::mutex> lock(rec.mutex);
            rec.done.emplace_back(o.job.id, s);
            rec.unknown.push_back(unknown);
        },
                        outage, Completer::Options{});
    completer.start();
    completer.submit(completed(1));  // alone: sent at once, no timer
    {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return first_in_db; });
    }
    for (int i = 2; i <= 51; ++i) completer.submit(completed(i));
    EXPECT_EQ(completer.pending(), 50u);
    {
        std::lock_guard<std::mutex> lock(m);
        release_first = true;
    }
    cv.notify_all();
    completer.stop();
    ASSERT_EQ(batch_sizes.size(), 2u);
    EXPECT_EQ(batch_sizes[0], 1u);
    EXPECT_EQ(batch_sizes[1], 50u) << "everything that arrived during the first flush goes in one batch";
    ASSERT_EQ(rec.done.size(), 51u);
    for (auto& [id, s] : rec.done) EXPECT_EQ(s, OutcomeStatus::recorded);
}

TEST(Completer, CapsTheBatchAndReportsLostLeases) {
    ManualClock clock;
    OutageMonitor outage(clock, 60000, "w1");
    std::vector<std::size_t> sizes;
    Recorded rec;
    Completer::Options opts;
    opts.max_batch = 10;
    Recording recording([&](const std::vector<Outcome>& batch) {
            sizes.push_back(batch.size());
            std::vector<OutcomeStatus> st;
            for (const auto& o : batch) st.push_back(o.job.id % 7 == 0 ? OutcomeStatus::lost : OutcomeStatus::recorded);
            return st;
        });
    Completer completer(recording.store, recording.claims, [&](const Finished&, const Outcome& o, OutcomeStatus s, bool) { rec.done.emplace_back(o.job.id, s); },
                        outage, opts);
    for (int i = 1; i <= 25; ++i) completer.submit(completed(i));
    while (completer.flush_once()) {
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 10, 5}));
    ASSERT_EQ(rec.done.size(), 25u);
    for (auto& [id, s] : rec.done) EXPECT_EQ(s, id % 7 == 0 ? OutcomeStatus::lost : OutcomeStatus::recorded) << id;
}

TEST(Completer, RunsItsThreadAtTheNiceValueAsked) {
    ManualClock clock;
    OutageMonitor outage(clock, 60000, "w1");
    errno = 0;
    const int ours = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    ASSERT_EQ(errno, 0);
    if (ours > 14) GTEST_SKIP() << "this test already runs at nice " << ours;
    std::mutex m;
    std::condition_variable cv;
    int seen = -100;
    Completer::Options opts;
    opts.nice = 5;
    Recording recording([&](const std::vector<Outcome>& batch) {
            std::lock_guard<std::mutex> lock(m);
            seen = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
            cv.notify_all();
            return std::vector<OutcomeStatus>(batch.size(), OutcomeStatus::recorded);
        });
    Completer completer(recording.store, recording.claims, [](const Finished&, const Outcome&, OutcomeStatus, bool) {},
                        outage, opts);
    completer.start();
    completer.submit(completed(1));
    {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return seen != -100; });
    }
    completer.stop();
    EXPECT_EQ(seen, ours + 5);  // the completer's thread only
    EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))), ours);
}

TEST(Completer, RidesOutAnOutageAndRecordsEachOutcomeOnce) {
    ManualClock clock;
    OutageMonitor outage(clock, 60000, "w1");
    int calls = 0;
    std::vector<std::int64_t> pauses;
    Recorded rec;
    Completer::Options opts;
    opts.sleep = [&](std::int64_t ms) {
        pauses.push_back(ms);
        clock.advance_ms(ms);
    };
    Recording recording([&](const std::vector<Outcome>& batch) {
            if (++calls <= 3) throw Error(ErrorCode::db_unavailable, "connection refused");
            return std::vector<OutcomeStatus>(batch.size(), OutcomeStatus::recorded);
        });
    Completer completer(recording.store, recording.claims, [&](const Finished&, const Outcome& o, OutcomeStatus s, bool unknown) {
            rec.done.emplace_back(o.job.id, s);
            rec.unknown.push_back(unknown);
        },
                        outage, opts);
    completer.submit(completed(1));
    completer.submit(completed(2));
    EXPECT_TRUE(completer.flush_once());
    EXPECT_EQ(calls, 4);
    EXPECT_EQ(pauses, (std::vector<std::int64_t>{50, 100, 200})) << "capped exponential pauses";
    EXPECT_FALSE(outage.in_outage()) << "a success ends the outage";
    ASSERT_EQ(rec.done.size(), 2u);
    EXPECT_EQ(rec.done[0].second, OutcomeStatus::recorded);
    EXPECT_FALSE(rec.unknown[0]);
}

TEST(Completer, GivesUpAfterMaxOutage) {
    ManualClock clock;
    OutageMonitor outage(clock, 5000, "w1");
    Recorded rec;
    Completer::Options opts;
    int sleeps = 0;
    opts.sleep = [&](std::int64_t ms) {
        ++sleeps;
        clock.advance_ms(ms);
    };
    Recording recording([&](const std::vector<Outcome>&) -> std::vector<OutcomeStatus> {
        throw Error(ErrorCode::db_unavailable, "connection refused");
    });
    Completer completer(recording.store, recording.claims, [&](const Finished&, const Outcome& o, OutcomeStatus s, bool unknown) {
                            rec.done.emplace_back(o.job.id, s);
                            rec.unknown.push_back(unknown);
                        },
                        outage, opts);
    completer.submit(completed(9));
    completer.flush_once();
    EXPECT_TRUE(outage.exceeded());
    EXPECT_GE(sleeps, 5);
    ASSERT_EQ(rec.done.size(), 1u);
    EXPECT_EQ(rec.done[0].second, OutcomeStatus::lost);
    EXPECT_TRUE(rec.unknown[0]) << "the outcome's fate is unknown: its job will be rescued";
}

TEST(Completer, NeverRetriesACommitInDoubt) {
    ManualClock clock;
    OutageMonitor outage(clock, 60000, "w1");
    int calls = 0;
    Recorded rec;
    Recording recording([&](const std::vector<Outcome>&) -> std::vector<OutcomeStatus> {
        ++calls;
        Error e(ErrorCode::db_unavailable, "commit in doubt");
        throw e.mark_in_doubt();
    });
    Completer completer(recording.store, recording.claims, [&](const Finished&, const Outcome& o, OutcomeStatus s, bool unknown) {
                            rec.done.emplace_back(o.job.id, s);
                            rec.unknown.push_back(unknown);
                        },
                        outage, Completer::Options{});
    completer.submit(completed(3));
    completer.flush_once();
    EXPECT_EQ(calls, 1);
    ASSERT_EQ(rec.done.size(), 1u);
    EXPECT_TRUE(rec.unknown[0]);
}

Job job_with(int attempt, int max_attempts, int snoozes = 0) {
    Job j;
    j.id = 5;
    j.type = "t";
    j.queue = "default";
    j.attempt = attempt;
    j.max_attempts = max_attempts;
    j.snoozes = snoozes;
    return j;
}

TEST(Executor, DecidesOutcomesFromIntents) {
    DefaultRandom random(1);
    JobPolicy policy;
    JobRef ref{5, "w1", 1};
    using O = HandlerResult::Outcome;
    HandlerResult r;
    r.outcome = O::success;
    r.output = "{\"ok\":true}";
    auto d = decide_outcome(job_with(1, 3), ref, r, policy, 100, false, random);
    ASSERT_TRUE(d.outcome);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::completed);
    EXPECT_EQ(*d.outcome->result, "{\"ok\":true}");

    r = HandlerResult{};
    r.outcome = O::failure;
    r.exit_code = 2;
    d = decide_outcome(job_with(1, 3), ref, r, policy, 100, false, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::retry);
    EXPECT_EQ(d.outcome->error_class, "exit_code");
    EXPECT_GT(d.outcome->delay_ms, 0);
    d = decide_outcome(job_with(3, 3), ref, r, policy, 100, false, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::failed) << "attempts exhausted";
    r.exit_code = 65;
    d = decide_outcome(job_with(1, 3), ref, r, policy, 100, false, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::failed) << "a permanent exit code";
    EXPECT_TRUE(d.permanent);

    r = HandlerResult{};
    r.outcome = O::timeout;
    d = decide_outcome(job_with(1, 3), ref, r, policy, 100, false, random);
    EXPECT_EQ(d.outcome->error_class, "timeout");

    r = HandlerResult{};
    r.outcome = O::snoozed;
    r.delay_ms = 30000;
    d = decide_outcome(job_with(1, 3, 4), ref, r, policy, 5, false, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::snoozed);
    EXPECT_EQ(d.outcome->delay_ms, 30000);
    d = decide_outcome(job_with(1, 3, 5), ref, r, policy, 5, false, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::failed);
    EXPECT_EQ(d.outcome->error_class, "snooze_limit");

    // A deferral to hold a workflow's limit keys carries them to the store.
    r = HandlerResult{};
    r.outcome = O::deferred;
    r.hold_for_keys = {"org:acme", "repo:r1"};
    d = decide_outcome(job_with(1, 3), ref, r, policy, 5, false, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::deferred);
    EXPECT_EQ(d.outcome->limit_keys, (std::vector<std::string>{"org:acme", "repo:r1"}));

    r = HandlerResult{};
    r.outcome = O::cancelled;
    d = decide_outcome(job_with(1, 3), ref, r, policy, 100, true, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::released) << "stopping: the job goes back unspent";
    d = decide_outcome(job_with(1, 3), ref, r, policy, 100, false, random);
    EXPECT_FALSE(d.outcome) << "lease lost: nothing to record";
    EXPECT_EQ(d.decision, Decision::lost);

    r = HandlerResult{};
    r.outcome = O::parked;
    r.wait = HandlerResult::Wait{"approved", "7", "{}", 3600000};
    policy.max_attempts = 9;
    d = decide_outcome(job_with(1, 3), ref, r, policy, 100, false, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::parked);
    EXPECT_EQ(d.outcome->wait_event, "approved");
    EXPECT_EQ(d.outcome->max_attempts, 9) << "the workflow's limit applies at the deadline";

    r = HandlerResult{};
    r.outcome = O::deferred;
    r.delay_ms = 1000;
    d = decide_outcome(job_with(1, 3), ref, r, policy, 100, false, random);
    EXPECT_EQ(d.outcome->kind, Outcome::Kind::deferred);
    EXPECT_EQ(d.outcome->delay_ms, 1000);
}

class FixedHandler final : public Handler {
public:
    explicit FixedHandler(HandlerResult r) : m_result(std::move(r)) {}
    HandlerResult run(const Job& job, const std::atomic<bool>&) override {
        seen_traceparent = job.traceparent.value_or("");
        return m_result;
    }
    std::string seen_traceparent;

private:
    HandlerResult m_result;
};

TEST(Executor, RunsTheHandlerInTheAttemptSpanAndPacksTheSpans) {
    ManualClock clock;
    DefaultRandom random(7);
    Tracer tracer(TracerOptions{}, random);
    HandlerResult r;
    r.outcome = HandlerResult::Outcome::failure;
    r.exit_code = 1;
    r.error = "boom";
    FixedHandler handler(r);
    test::FakeStore store(clock);
    WorkerOptions options;
    options.resolve_config = false;
    Executor executor(handler, tracer, store, nullptr, options, clock, random, "w1");
    Job job = job_with(1, 3);
    job.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    std::atomic<bool> cancel{false}, stopping{false};
    Verdict a = executor.run(job, JobRef{5, "w1", 1}, 1, 2, cancel, stopping);
    ASSERT_TRUE(a.outcome);
    EXPECT_EQ(a.decision, Decision::retried);
    EXPECT_EQ(a.outcome->kind, Outcome::Kind::retry);
    EXPECT_EQ(a.outcome->message, "boom");
    EXPECT_EQ(a.trace_id, "0af7651916cd43dd8448eb211c80319c") << "the attempt continues the job's trace";
    EXPECT_NE(handler.seen_traceparent.find("0af7651916cd43dd8448eb211c80319c"), std::string::npos);
    EXPECT_NE(handler.seen_traceparent, *job.traceparent) << "the handler runs in the attempt's own span";
    auto spans = unpack_attempt_spans(a.outcome->spans, 5);
    ASSERT_EQ(spans.size(), 2u) << "the consumer span and its claim child";
    auto consumer = SpanRecord::from_otlp_json(spans[0]);
    EXPECT_EQ(consumer.name, "process default");
    EXPECT_EQ(consumer.trace_id, "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(consumer.parent_span_id, "b7ad6b7169203331");
    EXPECT_TRUE(consumer.error);
    EXPECT_EQ(consumer.status_message, "boom");
    auto claim = SpanRecord::from_otlp_json(spans[1]);
    EXPECT_EQ(claim.parent_span_id, consumer.span_id);
    EXPECT_EQ(claim.end_ns, 2);
}

// Holds each started job until the test answers it, as a stream handler holds a job until its
// process answers: start() returns at once.
class HeldHandler final : public Handler {
public:
    HandlerResult run(const Job&, const std::atomic<bool>&) override { return {}; }
    bool asynchronous() const override { return true; }
    void start(const Job& job, const std::atomic<bool>&, std::function<void(HandlerResult)> done) override {
        std::lock_guard<std::mutex> lock(mutex);
        held.emplace_back(job.id, std::move(done));
        starter.push_back(std::this_thread::get_id());
        cv.notify_all();
    }
    // Waits until n jobs were started in all.
    void wait_started(std::size_t n) {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return starter.size() >= n; });
    }
    // Answers the oldest job held (success), on the caller's thread.
    void answer_oldest() {
        std::function<void(HandlerResult)> done;
        {
            std::lock_guard<std::mutex> lock(mutex);
            done = std::move(held.front().second);
            held.pop_front();
        }
        HandlerResult r;
        r.outcome = HandlerResult::Outcome::success;
        done(r);
    }
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::pair<std::int64_t, std::function<void(HandlerResult)>>> held;
    std::vector<std::thread::id> starter;  // the thread that started each job
};

// An asynchronous handler gets --concurrency jobs at a time from one dispatcher, and the
// thread that hands a result over starts the next ready job itself.
TEST(ExecutorPool, KeepsConcurrencyJobsInFlightWithAnAsynchronousHandler) {
    ManualClock clock;
    DefaultRandom random(7);
    Tracer tracer(TracerOptions{}, random);
    test::FakeStore store(clock);
    std::mutex m;
    std::vector<std::int64_t> recorded;
    store.on_record = [&](const std::vector<Outcome>& batch, const ClaimRequest&, std::vector<Job>&) {
        std::lock_guard<std::mutex> lock(m);
        for (const auto& o : batch) recorded.push_back(o.job.id);
        return std::vector<OutcomeStatus>(batch.size(), OutcomeStatus::recorded);
    };
    NoClaims claims;
    OutageMonitor outage(clock, 60000, "w1");
    WorkerOptions options;
    options.resolve_config = false;
    SlotTable table("w1", 60000, 2, 0, 0);
    WorkerMetrics metrics;
    Reporter reporter(table, metrics, nullptr, tracer, clock, "", "w1");
    Completer completer(store, claims, [&](const Finished& f, const Outcome& o, OutcomeStatus st, bool unknown) {
        reporter.recorded(f, o, st, unknown);
    }, outage, Completer::Options{});
    HeldHandler handler;
    Executor executor(handler, tracer, store, nullptr, options, clock, random, "w1");
    ExecutorPool pool(table, executor, completer, reporter);
    completer.start();
    pool.start(2);

    std::vector<Job> jobs;
    for (int i = 1; i <= 3; ++i) {
        jobs.push_back(job_with(1, 3));
        jobs.back().id = i;
    }
    ASSERT_EQ(table.reserve_claim(), 2);
    table.hand_out(std::move(jobs), 2, 1, 2, clock.steady_ns());
    handler.wait_started(2);
    {
        std::lock_guard<std::mutex> lock(handler.mutex);
        EXPECT_EQ(handler.held.size(), 2u) << "--concurrency 2: the third job waits";
        EXPECT_EQ(handler.starter[0], handler.starter[1]) << "one dispatcher thread";
        EXPECT_NE(handler.starter[0], std::this_thread::get_id());
    }
    handler.answer_oldest();  // here: the third job starts on this thread
    {
        std::lock_guard<std::mutex> lock(handler.mutex);
        ASSERT_EQ(handler.starter.size(), 3u);
        EXPECT_EQ(handler.starter[2], std::this_thread::get_id()) << "the result's thread started the next job";
        EXPECT_EQ(handler.held.size(), 2u);
    }
    handler.answer_oldest();
    handler.answer_oldest();
    table.drain([] { return false; });
    table.close();
    pool.join();  // ends: the table closed and no job is in flight
    completer.stop();
    std::lock_guard<std::mutex> lock(m);
    std::sort(recorded.begin(), recorded.end());
    EXPECT_EQ(recorded, (std::vector<std::int64_t>{1, 2, 3}));
    EXPECT_EQ(table.stats().completed, 3);
}

}  // namespace
}  // namespace wfq::engine
