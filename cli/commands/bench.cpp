// `wfq bench`: throughput and latency measurements against the configured database
// (wfq/bench.h runs them; this prints their reports).
#include "common.h"

#include <wfq/bench.h>
#include <wfq/job_log.h>
#include <wfq/log.h>

#include <optional>

namespace wfq::cli {
namespace {

struct BenchCmd {
    std::string what;
    BenchOptions options;
    std::string log_cap = "64KiB";
    bool json = false;
};

// --json: the report as one object; else "NAME: key=value ..." in the report's key order.
void print_report(const json& report, bool as_json) {
    if (as_json) {
        std::cout << report.dump() << "\n";
        return;
    }
    std::cout << report.at("bench").get<std::string>() << ":";
    for (auto it = report.begin(); it != report.end(); ++it)
        if (it.key() != "bench") std::cout << " " << it.key() << "=" << it.value().dump();
    std::cout << "\n";
}

int run_bench(Context& ctx, BenchCmd& o) {
    if (ctx.log_level == "info") log::configure("warn", ctx.log_format);  // per-job lines would drown the numbers
    const BenchOptions& b = o.options;
    if (b.jobs < 1 || b.samples < 1 || b.concurrency < 1 || b.batch_size < 1 || b.processes < 1)
        throw Error(ErrorCode::usage, "bench sizes must be positive");
    o.options.per_stage = o.json;
    o.options.log_cap = parse_log_cap("--log-cap", o.log_cap);
    std::optional<Progress> progress;  // while a benchmark enqueues its jobs
    BenchEnvironment env;
    env.store = [&ctx]() -> Store& { return ctx.store(); };
    env.db_url = ctx.db_url();
    env.schema = ctx.schema;
    env.command = ctx.exec_command;
    env.clock = &ctx.clock();
    env.random = &ctx.random();
    env.tracer = &ctx.tracer();
    env.enqueue_progress = [&](std::int64_t enqueued) {
        if (!progress) progress.emplace("enqueued", true);
        progress->update(enqueued);
    };
    env.enqueue_done = [&] { progress.reset(); };
    print_report(run_benchmark(o.what, o.options, env), o.json);
    return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<BenchCmd>();
    auto* sub = app.add_subcommand(
        "bench", "Measure throughput, latency and sizes (enqueue, work, latency, locks, spawn, exec, stream, state, config)");
    sub->add_option("benchmark", o->what,
                    "enqueue, work, latency, locks, spawn, exec [-- CMD ARG...] (default: /bin/true), stream [-- CMD ARG...] (default: a C++ echo handler), state or config")
        ->required();
    sub->add_option("--jobs", o->options.jobs, "Jobs (or lock cycles per process, or spawns)")->capture_default_str();
    sub->add_option("--concurrency", o->options.concurrency, "Worker concurrency for `work`, `exec`, `stream`, `spawn`")->capture_default_str();
    sub->add_option("--prefetch", o->options.prefetch, "Jobs claimed beyond the free slots for `work`, `exec`, `stream` (default: the worker's)");
    sub->add_option("--batch-size", o->options.batch_size, "Jobs per enqueue transaction")->capture_default_str();
    sub->add_option("--processes", o->options.processes,
                    "Processes contending for one lock (for `config`: repositories; for `stream`: handler processes)")
        ->capture_default_str();
    sub->add_option("--samples", o->options.samples, "Samples for `latency`")->capture_default_str();
    sub->add_option("--fixtures", o->options.fixtures, "Directory of stage contexts for `state`");
    sub->add_option("--log-cap", o->log_cap, "For `exec` and `stream`: each job's stderr kept as its log, as `process --log-cap` (0: none)")
        ->capture_default_str();
    sub->add_flag("--json", o->json, "Print one JSON object per benchmark");
    on_run(sub, ctx, o, run_bench);
    auto* echo = app.add_subcommand("__stream-echo", "")->group("");  // hidden: the handler of `bench stream`
    echo->callback([&ctx] {
        ctx.action = [] {
            if (!run_stream_echo()) throw Error(ErrorCode::failure);  // its stdout is gone: nobody to tell
            return 0;
        };
    });
}

}  // namespace wfq::cli
