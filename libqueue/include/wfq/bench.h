#pragma once
// `wfq bench`: throughput, latency and size measurements against a database. Benchmarks, not
// tests: each returns its numbers as a report and asserts nothing.
#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace wfq {

class Clock;
class Random;
class Store;
class Tracer;

struct BenchOptions {
    std::int64_t jobs = 20000;  // jobs, lock cycles per process, or spawns
    int concurrency = 8;        // worker executors (work, exec, stream) or spawning threads (spawn)
    int prefetch = -1;          // jobs claimed beyond the free slots (-1: the worker's default)
    int batch_size = 1000;      // jobs per enqueue transaction (enqueue)
    int processes = 1;          // locks: processes on one key; config: repositories; stream: handler processes
    std::int64_t samples = 500;  // latency
    std::string fixtures;       // state: a directory of stage contexts, one JSON file per stage
    bool per_stage = false;     // state: add each stage's numbers to the report
    std::size_t log_cap = 64 * 1024;  // exec, stream: each job's stderr kept as its log, as `process --log-cap` (0: none)
};

// What a benchmark may use: the database (opened on first use: spawn never opens it), how to
// open more connections, and the command of the stream handler.
struct BenchEnvironment {
    std::function<Store&()> store;
    std::string db_url, schema;         // for the connections a benchmark opens itself
    std::vector<std::string> command;   // stream: the handler (empty: wfq's own echo handler)
    Clock* clock = nullptr;
    Random* random = nullptr;
    // The workers' tracer (`--otlp-file`, OTEL_EXPORTER_OTLP_*): a benchmark measures the export
    // a worker would do; null: spans are made and stored, not exported.
    Tracer* tracer = nullptr;
    // While a benchmark enqueues its jobs: how many so far, then once done (a terminal shows it).
    std::function<void(std::int64_t enqueued)> enqueue_progress;
    std::function<void()> enqueue_done;
};

// Runs one benchmark (enqueue, work, latency, locks, spawn, exec, stream, state, config) and
// returns its report: a JSON object of its numbers with "bench" naming it. Throws Error(usage)
// for an unknown name or missing input (state without fixtures).
nlohmann::json run_benchmark(const std::string& name, const BenchOptions& options, BenchEnvironment& environment);

// The cheapest stream handler, for the ceiling of `bench stream`: answers {"id":N,"ok":true} to
// every job line on stdin, one write per read. False when stdout fails.
bool run_stream_echo();

}  // namespace wfq
