#include "bench_support.h"

#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/process_runner.h>
#include <wfq/queue.h>
#include <wfq/worker.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>
#include <unistd.h>

namespace wfq {
namespace bench {

double seconds_since(std::int64_t start_ns) {
    return static_cast<double>(SystemClock::instance().steady_ns() - start_ns) / 1e9;
}

bool complete_directly(Store& store, const JobRef& job) {
    Outcome o;
    o.job = job;
    o.kind = Outcome::Kind::completed;
    return store.record_outcomes({o}).at(0) == OutcomeStatus::recorded;
}

std::vector<NewJob> make_jobs(BenchEnvironment& env, std::int64_t n, const std::string& type) {
    std::vector<NewJob> jobs;
    jobs.reserve(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        NewJob j;
        j.type = type;
        j.queue = "bench";
        j.payload = "{\"i\":" + std::to_string(i) + "}";
        prepare_new_job(j, *env.random);
        jobs.push_back(std::move(j));
    }
    return jobs;
}

void enqueue_all(BenchEnvironment& env, Store& store, const std::vector<NewJob>& jobs, int batch_size) {
    struct Done {  // also when a batch fails: the progress line goes before the error
        BenchEnvironment& env;
        ~Done() {
            if (env.enqueue_done) env.enqueue_done();
        }
    } done{env};
    for (std::size_t i = 0; i < jobs.size(); i += static_cast<std::size_t>(batch_size)) {
        if (env.enqueue_progress) env.enqueue_progress(static_cast<std::int64_t>(i));
        std::vector<NewJob> batch(jobs.begin() + static_cast<long>(i),
                                  jobs.begin() + static_cast<long>(std::min(jobs.size(), i + static_cast<std::size_t>(batch_size))));
        store.enqueue_batch(batch);
    }
}

double run_bench_worker(const BenchOptions& o, BenchEnvironment& env, Handler& handler, const std::string& type,
                        std::int64_t& completed, LiveLogs* live_logs) {
    Store& store = env.store();
    enqueue_all(env, store, make_jobs(env, o.jobs, type), 1000);
    WorkerOptions w;
    w.queues = {"bench"};
    w.types = {type};
    w.concurrency = o.concurrency;
    w.prefetch = o.prefetch;
    w.until_empty = true;
    w.rescue_interval_ms = 0;
    w.tracer = env.tracer;
    w.live_logs = live_logs;
    Worker worker(store, handler, w, *env.clock, *env.random);
    std::atomic<bool> stop{false};
    auto start = env.clock->steady_ns();
    auto stats = worker.run(stop);
    completed = stats.completed;
    return seconds_since(start);
}

double spawn_true(const BenchOptions& o, BenchEnvironment& env) {
    ProcessSpec spec;
    spec.argv = {"/bin/true"};
    spec.env = current_environment();
    auto start = env.clock->steady_ns();
    std::atomic<std::int64_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < o.concurrency; ++t)
        threads.emplace_back([&] {
            while (next++ < o.jobs) run_process(spec);
        });
    for (auto& t : threads) t.join();
    return seconds_since(start);
}

}  // namespace bench

nlohmann::json run_benchmark(const std::string& name, const BenchOptions& o, BenchEnvironment& env) {
    nlohmann::json report;
    if (name == "enqueue") report = bench::enqueue(o, env);
    else if (name == "work") report = bench::work(o, env);
    else if (name == "latency") report = bench::latency(o, env);
    else if (name == "locks") report = bench::locks(o, env);
    else if (name == "spawn") report = bench::spawn(o, env);
    else if (name == "exec") report = bench::exec(o, env);
    else if (name == "stream") report = bench::stream(o, env);
    else if (name == "state") report = bench::state(o, env);
    else if (name == "config") report = bench::config(o, env);
    else
        throw Error(ErrorCode::usage,
                    "unknown benchmark '" + name + "' (enqueue, work, latency, locks, spawn, exec, stream, state, config)");
    report["bench"] = name;
    return report;
}

bool run_stream_echo() {
    std::string in, out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return true;
        in.append(buf, static_cast<std::size_t>(n));
        std::size_t start = 0, nl;
        while ((nl = in.find('\n', start)) != std::string::npos) {
            static const char prefix[] = "{\"id\":";
            if (in.compare(start, sizeof prefix - 1, prefix) == 0) {
                std::size_t end = in.find_first_of(",}", start);
                out += "{\"id\":" + in.substr(start + sizeof prefix - 1, end - start - (sizeof prefix - 1)) + ",\"ok\":true}\n";
            }
            start = nl + 1;
        }
        in.erase(0, start);
        for (std::size_t done = 0; done < out.size();) {
            ssize_t w = ::write(1, out.data() + done, out.size() - done);
            if (w <= 0) return false;
            done += static_cast<std::size_t>(w);
        }
        out.clear();
    }
}

}  // namespace wfq
