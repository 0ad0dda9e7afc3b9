// Enqueue-to-handler-start on an idle worker, and the claim statement alone.
#include "bench_support.h"

#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/queue.h>
#include <wfq/store.h>
#include <wfq/worker.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace wfq::bench {

// One job at a time, the worker woken by the enqueue (NOTIFY on PostgreSQL, the change counter
// on SQLite).
json latency(const BenchOptions& o, BenchEnvironment& env) {
    struct Recorder final : Handler {
        std::mutex mutex;
        std::condition_variable cv;
        std::int64_t seen = -1, started_ns = 0;
        HandlerResult run(const Job& job, const std::atomic<bool>&) override {
            auto now = SystemClock::instance().steady_ns();
            std::lock_guard<std::mutex> lock(mutex);
            seen = std::stoll(job.payload.substr(job.payload.find(':') + 1));
            started_ns = now;
            cv.notify_all();
            return {};
        }
    } recorder;
    Store& store = env.store();
    StoreOptions so;
    so.url = env.db_url;
    so.schema = env.schema;
    auto worker_store = open_store(so);
    WorkerOptions w;
    w.queues = {"bench"};
    w.types = {"bench_latency"};
    w.poll_ms = 5000;
    w.rescue_interval_ms = 0;
    Worker worker(*worker_store, recorder, w, *env.clock, *env.random);
    std::atomic<bool> stop{false};
    std::thread t([&] { worker.run(stop); });
    std::vector<double> ms, commit_ms, after_commit_ms;
    std::int64_t previous = 0;
    auto finished = [&](std::int64_t id) {
        auto job = store.get_job(id);
        return !job || job->state != JobState::running;
    };
    for (std::int64_t i = 0; i < o.samples; ++i) {
        // An idle worker: the previous job is finished and recorded before the next is sent
        // (asked by id: a count of completed jobs would read a big table's history).
        while (previous && !finished(previous)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // and back in its idle wait
        NewJob j;
        j.type = "bench_latency";
        j.queue = "bench";
        j.payload = "{\"i\":" + std::to_string(i) + "}";
        prepare_new_job(j, *env.random);
        auto sent = env.clock->steady_ns();
        previous = store.enqueue(j).id;
        const auto committed = env.clock->steady_ns();
        std::unique_lock<std::mutex> lock(recorder.mutex);
        if (!recorder.cv.wait_for(lock, std::chrono::seconds(10), [&] { return recorder.seen == i; }))
            throw Error(ErrorCode::failure, "latency bench: job not started within 10s");
        ms.push_back(static_cast<double>(recorder.started_ns - sent) / 1e6);
        commit_ms.push_back(static_cast<double>(committed - sent) / 1e6);
        // (The handler may start before the producer sees its commit return.)
        after_commit_ms.push_back(static_cast<double>(std::max<std::int64_t>(0, recorder.started_ns - committed)) / 1e6);
    }
    stop = true;
    t.join();
    // Claim latency: one due job claimed and completed at a time, the claim statement timed.
    std::vector<double> claim_ms;
    ClaimRequest req;
    req.worker_id = "bench-claim";
    req.queues = {"bench"};
    req.types = {"bench_claim"};
    for (std::int64_t i = 0; i < o.samples; ++i) {
        NewJob j;
        j.type = "bench_claim";
        j.queue = "bench";
        j.payload = "{}";
        prepare_new_job(j, *env.random);
        store.enqueue(j);
        auto start = env.clock->steady_ns();
        auto claimed = store.claim_batch(req);
        claim_ms.push_back(static_cast<double>(env.clock->steady_ns() - start) / 1e6);
        for (const auto& c : claimed) complete_directly(store, {c.id, req.worker_id, c.attempt});
    }
    auto pct = [](std::vector<double>& v, double p) {
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
    };
    return {{"backend", store.backend()}, {"samples", o.samples}, {"p50_ms", pct(ms, 0.5)},
            {"p90_ms", pct(ms, 0.9)}, {"p99_ms", pct(ms, 0.99)}, {"max_ms", ms.back()},
            {"claim_p50_ms", pct(claim_ms, 0.5)}, {"claim_p99_ms", pct(claim_ms, 0.99)},
            // Where the time goes: the producer's enqueue until its commit returns, then the
            // commit to the handler's start (the wake-up's delivery, the claim, the hand-off).
            {"enqueue_commit_p50_ms", pct(commit_ms, 0.5)}, {"enqueue_commit_p99_ms", pct(commit_ms, 0.99)},
            {"after_commit_p50_ms", pct(after_commit_ms, 0.5)}, {"after_commit_p99_ms", pct(after_commit_ms, 0.99)}};
}

}  // namespace wfq::bench
