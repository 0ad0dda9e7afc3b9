// Jobs per second: enqueueing, a worker with a no-op handler, exec'd and stream handlers, and
// the bare spawn rate they compare with.
#include "bench_support.h"

#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/live_log.h>
#include <wfq/process_runner.h>
#include <wfq/store.h>
#include <wfq/stream_handler.h>
#include <wfq/worker.h>

#include <algorithm>
#include <sys/resource.h>
#include <unistd.h>

namespace wfq::bench {
namespace {

class NoopHandler final : public Handler {
public:
    HandlerResult run(const Job&, const std::atomic<bool>&) override { return {}; }
};

}  // namespace

json enqueue(const BenchOptions& o, BenchEnvironment& env) {
    auto jobs = make_jobs(env, o.jobs, "bench_enqueue");
    Store& store = env.store();
    auto start = env.clock->steady_ns();
    enqueue_all(env, store, jobs, o.batch_size);
    double s = seconds_since(start);
    return {{"backend", store.backend()}, {"jobs", o.jobs}, {"batch_size", o.batch_size}, {"seconds", s},
            {"jobs_per_s", static_cast<double>(o.jobs) / s}};
}

json work(const BenchOptions& o, BenchEnvironment& env) {
    NoopHandler handler;
    std::int64_t completed = 0;
    double s = run_bench_worker(o, env, handler, "bench_work", completed);
    return {{"backend", env.store().backend()}, {"jobs", completed}, {"concurrency", o.concurrency},
            {"seconds", s}, {"jobs_per_s", static_cast<double>(completed) / s}};
}

// How fast this machine spawns /bin/true through the handler runner, for comparison with
// `wfq process --exec /bin/true`.
json spawn(const BenchOptions& o, BenchEnvironment& env) {
    double s = spawn_true(o, env);
    return {{"spawns", o.jobs}, {"concurrency", o.concurrency}, {"seconds", s},
            {"spawns_per_s", static_cast<double>(o.jobs) / s}};
}

// `process --exec /bin/true` against `bench spawn` at the same concurrency: the worker's
// overhead per exec'd job (goal: at least 80% of the spawn rate).
json exec(const BenchOptions& o, BenchEnvironment& env) {
    start_handler_watchdog();  // as `wfq process` does
    // CPU time (ms) of this process (RUSAGE_SELF, not its children), or of its reaped
    // children (RUSAGE_CHILDREN: the /bin/true processes).
    auto cpu_ms = [](int who = RUSAGE_SELF) {
        rusage u{};
        getrusage(who, &u);
        return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000.0 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000.0;
    };
    auto child_ms = [&] { return cpu_ms(RUSAGE_CHILDREN); };
    const double spawn_cpu_before = cpu_ms(), spawn_child_before = child_ms();
    double spawn_rate = static_cast<double>(o.jobs) / spawn_true(o, env);
    double spawn_cpu_per_job = (cpu_ms() - spawn_cpu_before) / static_cast<double>(o.jobs);
    double spawn_child_per_job = (child_ms() - spawn_child_before) / static_cast<double>(o.jobs);
    ExecHandlerOptions h;
    // `bench exec -- CMD`: the worker running CMD (e.g. a handler that writes stderr, kept as
    // the job's log); the spawn baseline stays /bin/true.
    h.command = env.command.empty() ? std::vector<std::string>{"/bin/true"} : env.command;
    h.db_url = env.db_url;
    h.log_cap = o.log_cap;
    LiveLogs live_logs;
    if (h.log_cap > 0) h.live_logs = &live_logs;
    auto handler = make_exec_handler(h);
    std::int64_t completed = 0;
    double cpu_before = cpu_ms(), child_before = child_ms();
    double exec_s = run_bench_worker(o, env, *handler, "bench_exec", completed, h.live_logs);
    double rate = static_cast<double>(completed) / exec_s;
    double cpu_per_job = (cpu_ms() - cpu_before) / static_cast<double>(std::max<std::int64_t>(1, completed));
    double child_per_job = (child_ms() - child_before) / static_cast<double>(std::max<std::int64_t>(1, completed));
    std::string command;
    for (const auto& a : h.command) command += (command.empty() ? "" : " ") + a;
    return {{"backend", env.store().backend()}, {"jobs", completed}, {"concurrency", o.concurrency}, {"handler", command},
            {"log_cap", o.log_cap}, {"jobs_per_s", rate}, {"spawns_per_s", spawn_rate}, {"ratio_to_spawn", rate / spawn_rate},
            {"worker_cpu_ms_per_job", cpu_per_job}, {"spawn_cpu_ms_per_job", spawn_cpu_per_job},
            {"handler_cpu_ms_per_job", child_per_job}, {"spawn_child_cpu_ms_per_job", spawn_child_per_job}};
}

// Stream handler throughput: env's command, or by default wfq's own line-echo no-op handler
// (`wfq __stream-echo`, the ceiling).
json stream(const BenchOptions& o, BenchEnvironment& env) {
    start_handler_watchdog();
    StreamHandlerOptions so;
    so.command = env.command;
    if (so.command.empty()) {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) throw Error(ErrorCode::failure, "cannot find the wfq binary for the echo handler");
        so.command = {std::string(self, static_cast<std::size_t>(n)), "__stream-echo"};
    }
    so.procs = o.processes;
    so.db_url = env.db_url;
    so.log_cap = o.log_cap;
    LiveLogs live_logs;
    if (so.log_cap > 0) so.live_logs = &live_logs;
    std::int64_t completed = 0;
    double rate;
    {
        auto handler = make_stream_handler(so);
        double s = run_bench_worker(o, env, *handler, "bench_stream", completed, so.live_logs);
        rate = static_cast<double>(completed) / s;
    }
    std::string command;
    for (const auto& a : so.command) command += (command.empty() ? "" : " ") + a;
    return {{"backend", env.store().backend()}, {"jobs", completed}, {"concurrency", o.concurrency},
            {"procs", o.processes}, {"handler", command}, {"jobs_per_s", rate}};
}

}  // namespace wfq::bench
