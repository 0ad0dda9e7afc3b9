#pragma once
// What the benchmarks share: their jobs, enqueueing them, a worker that runs them to the end,
// and one function per benchmark for run_benchmark.
#include <wfq/bench.h>
#include <wfq/job.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace wfq {

class LiveLogs;

class Handler;

namespace bench {

using nlohmann::json;

double seconds_since(std::int64_t start_ns);
// Records job as completed (no result) straight through the store, around the completer, for
// the benchmarks that time one store call; false when the lease was lost.
bool complete_directly(Store& store, const JobRef& job);
// n prepared jobs of type on the queue bench, payload {"i":N}.
std::vector<NewJob> make_jobs(BenchEnvironment& env, std::int64_t n, const std::string& type);
// Enqueues jobs batch_size at a time, telling env's progress.
void enqueue_all(BenchEnvironment& env, Store& store, const std::vector<NewJob>& jobs, int batch_size);
// Runs o.jobs jobs of type through handler with a worker of o.concurrency executors until the
// queue is empty; returns the seconds it took (completed: how many jobs completed). live_logs:
// the handler's registry of running attempts' logs, written by the worker as `wfq process` does.
double run_bench_worker(const BenchOptions& o, BenchEnvironment& env, Handler& handler, const std::string& type,
                        std::int64_t& completed, LiveLogs* live_logs = nullptr);
// Spawns /bin/true o.jobs times on o.concurrency threads; returns the seconds it took.
double spawn_true(const BenchOptions& o, BenchEnvironment& env);

json enqueue(const BenchOptions& o, BenchEnvironment& env);
json work(const BenchOptions& o, BenchEnvironment& env);
json latency(const BenchOptions& o, BenchEnvironment& env);
json locks(const BenchOptions& o, BenchEnvironment& env);
json spawn(const BenchOptions& o, BenchEnvironment& env);
json exec(const BenchOptions& o, BenchEnvironment& env);
json stream(const BenchOptions& o, BenchEnvironment& env);
json state(const BenchOptions& o, BenchEnvironment& env);
json config(const BenchOptions& o, BenchEnvironment& env);

}  // namespace bench
}  // namespace wfq
