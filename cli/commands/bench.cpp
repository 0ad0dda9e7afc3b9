// `wfq bench`: throughput and latency measurements against the configured database.
// Benchmarks, not tests: they report numbers and assert nothing.
#include "common.h"

#include <wfq/config_cache.h>
#include <wfq/gzip.h>
#include <wfq/lock.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>
#include <wfq/queue.h>
#include <wfq/state.h>
#include <wfq/stream_handler.h>
#include <wfq/worker.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <condition_variable>
#include <cstring>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace wfq::cli {
namespace {

struct BenchOptions {
    std::string what;
    std::int64_t jobs = 20000;
    int concurrency = 8;
    int prefetch = -1;
    int batch_size = 1000;
    int processes = 1;
    std::int64_t samples = 500;
    std::string fixtures;
    bool json = false;
};

double seconds_since(std::int64_t start_ns) {
    return static_cast<double>(SystemClock::instance().steady_ns() - start_ns) / 1e9;
}

void report(const BenchOptions& o, const std::string& name, json fields) {
    fields["bench"] = name;
    if (o.json) {
        std::cout << fields.dump() << "\n";
        return;
    }
    std::cout << name << ":";
    for (auto it = fields.begin(); it != fields.end(); ++it)
        if (it.key() != "bench") std::cout << " " << it.key() << "=" << it.value().dump();
    std::cout << "\n";
}

std::vector<NewJob> make_jobs(Context& ctx, std::int64_t n, const std::string& type) {
    std::vector<NewJob> jobs;
    jobs.reserve(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        NewJob j;
        j.type = type;
        j.queue = "bench";
        j.payload = "{\"i\":" + std::to_string(i) + "}";
        prepare_new_job(j, ctx.random());
        jobs.push_back(std::move(j));
    }
    return jobs;
}

void enqueue_all(Store& store, const std::vector<NewJob>& jobs, int batch_size) {
    Progress progress("enqueued", true);
    for (std::size_t i = 0; i < jobs.size(); i += static_cast<std::size_t>(batch_size)) {
        progress.update(static_cast<std::int64_t>(i));
        std::vector<NewJob> batch(jobs.begin() + static_cast<long>(i),
                                  jobs.begin() + static_cast<long>(std::min(jobs.size(), i + static_cast<std::size_t>(batch_size))));
        store.enqueue_batch(batch);
    }
}

class NoopHandler final : public Handler {
public:
    HandlerResult run(const Job&, const std::atomic<bool>&) override { return {}; }
};

int bench_enqueue(Context& ctx, BenchOptions& o) {
    auto jobs = make_jobs(ctx, o.jobs, "bench_enqueue");
    Store& store = ctx.store();
    auto start = ctx.clock().steady_ns();
    enqueue_all(store, jobs, o.batch_size);
    double s = seconds_since(start);
    report(o, "enqueue", {{"backend", store.backend()}, {"jobs", o.jobs}, {"batch_size", o.batch_size}, {"seconds", s},
                          {"jobs_per_s", static_cast<double>(o.jobs) / s}});
    return 0;
}

// Runs every bench job through handler with a worker of o.concurrency executors; returns the
// seconds it took (completed: how many jobs completed).
double run_bench_worker(Context& ctx, BenchOptions& o, Handler& handler, const std::string& type, std::int64_t& completed) {
    Store& store = ctx.store();
    enqueue_all(store, make_jobs(ctx, o.jobs, type), 1000);
    WorkerOptions w;
    w.queues = {"bench"};
    w.types = {type};
    w.concurrency = o.concurrency;
    w.prefetch = o.prefetch;
    w.until_empty = true;
    w.rescue_interval_ms = 0;
    Worker worker(store, handler, w, ctx.clock(), ctx.random());
    std::atomic<bool> stop{false};
    auto start = ctx.clock().steady_ns();
    auto stats = worker.run(stop);
    completed = stats.completed;
    return seconds_since(start);
}

int bench_work(Context& ctx, BenchOptions& o) {
    NoopHandler handler;
    std::int64_t completed = 0;
    double s = run_bench_worker(ctx, o, handler, "bench_work", completed);
    report(o, "work", {{"backend", ctx.store().backend()}, {"jobs", completed}, {"concurrency", o.concurrency},
                       {"seconds", s}, {"jobs_per_s", static_cast<double>(completed) / s}});
    return 0;
}

// Enqueue-to-handler-start on an idle worker: one job at a time, the worker woken by the
// enqueue (NOTIFY on PostgreSQL, the change counter on SQLite).
int bench_latency(Context& ctx, BenchOptions& o) {
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
    Store& store = ctx.store();
    StoreOptions so;
    so.url = ctx.db_url();
    so.schema = ctx.schema;
    auto worker_store = open_store(so);
    WorkerOptions w;
    w.queues = {"bench"};
    w.types = {"bench_latency"};
    w.poll_ms = 5000;
    w.rescue_interval_ms = 0;
    Worker worker(*worker_store, recorder, w, ctx.clock(), ctx.random());
    std::atomic<bool> stop{false};
    std::thread t([&] { worker.run(stop); });
    std::vector<double> ms;
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
        prepare_new_job(j, ctx.random());
        auto sent = ctx.clock().steady_ns();
        previous = store.enqueue(j).id;
        std::unique_lock<std::mutex> lock(recorder.mutex);
        if (!recorder.cv.wait_for(lock, std::chrono::seconds(10), [&] { return recorder.seen == i; }))
            throw Error(ErrorCode::failure, "latency bench: job not started within 10s");
        ms.push_back(static_cast<double>(recorder.started_ns - sent) / 1e6);
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
        prepare_new_job(j, ctx.random());
        store.enqueue(j);
        auto start = ctx.clock().steady_ns();
        auto claimed = store.claim_batch(req);
        claim_ms.push_back(static_cast<double>(ctx.clock().steady_ns() - start) / 1e6);
        for (const auto& c : claimed) store.complete({c.id, req.worker_id, c.attempt}, std::nullopt, {});
    }
    auto pct = [](std::vector<double>& v, double p) {
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
    };
    report(o, "latency", {{"backend", store.backend()}, {"samples", o.samples}, {"p50_ms", pct(ms, 0.5)},
                          {"p90_ms", pct(ms, 0.9)}, {"p99_ms", pct(ms, 0.99)}, {"max_ms", ms.back()},
                          {"claim_p50_ms", pct(claim_ms, 0.5)}, {"claim_p99_ms", pct(claim_ms, 0.99)}});
    return 0;
}

// Acquire+release cycles per second; with --processes P, P forked processes on one key.
int bench_locks(Context& ctx, BenchOptions& o) {
    std::int64_t cycles = o.jobs;
    auto one = [&](Store& store, const std::string& key, bool contended) {
        std::int64_t done = 0, misses = 0;
        DefaultRandom random;
        while (done < cycles) {
            auto g = store.lock_acquire(key, "bench", 30000);
            if (!g) {
                ++misses;
                if (!contended) throw Error(ErrorCode::failure, "uncontended acquire failed");
                continue;
            }
            store.lock_release(key, g->token);
            ++done;
        }
        return misses;
    };
    std::string key = "bench:" + std::to_string(getpid());
    if (o.processes <= 1) {
        Store& store = ctx.store();
        auto start = ctx.clock().steady_ns();
        one(store, key, false);
        double s = seconds_since(start);
        report(o, "locks", {{"backend", store.backend()}, {"processes", 1}, {"cycles", cycles}, {"seconds", s},
                            {"cycles_per_s", static_cast<double>(cycles) / s}});
        return 0;
    }
    ctx.store();  // migrate / check before forking
    auto start = ctx.clock().steady_ns();
    std::vector<pid_t> children;
    for (int p = 0; p < o.processes; ++p) {
        pid_t pid = fork();
        if (pid == 0) {
            StoreOptions so;
            so.url = ctx.db_url();
            so.schema = ctx.schema;
            try {
                auto store = open_store(so);
                one(*store, key, true);
                _exit(0);
            } catch (...) {
                _exit(1);
            }
        }
        children.push_back(pid);
    }
    int failures = 0;
    for (pid_t c : children) {
        int st = 0;
        waitpid(c, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failures;
    }
    double s = seconds_since(start);
    report(o, "locks", {{"backend", ctx.store().backend()}, {"processes", o.processes}, {"cycles", cycles * o.processes},
                        {"seconds", s}, {"cycles_per_s", static_cast<double>(cycles * o.processes) / s},
                        {"failed_processes", failures}});
    return 0;
}

// How fast this machine spawns /bin/true through the handler runner, for comparison with
// `wfq process --exec /bin/true`.
// Spawns /bin/true o.jobs times on o.concurrency threads; returns the seconds it took.
double spawn_true(Context& ctx, const BenchOptions& o) {
    ProcessSpec spec;
    spec.argv = {"/bin/true"};
    spec.env = current_environment();
    auto start = ctx.clock().steady_ns();
    std::atomic<std::int64_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < o.concurrency; ++t)
        threads.emplace_back([&] {
            while (next++ < o.jobs) run_process(spec);
        });
    for (auto& t : threads) t.join();
    return seconds_since(start);
}

int bench_spawn(Context& ctx, BenchOptions& o) {
    double s = spawn_true(ctx, o);
    report(o, "spawn", {{"spawns", o.jobs}, {"concurrency", o.concurrency}, {"seconds", s},
                        {"spawns_per_s", static_cast<double>(o.jobs) / s}});
    return 0;
}

// `process --exec /bin/true` against `bench spawn` at the same concurrency: the worker's
// overhead per exec'd job (goal: at least 80% of the spawn rate).
int bench_exec(Context& ctx, BenchOptions& o) {
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
    double spawn_rate = static_cast<double>(o.jobs) / spawn_true(ctx, o);
    double spawn_cpu_per_job = (cpu_ms() - spawn_cpu_before) / static_cast<double>(o.jobs);
    double spawn_child_per_job = (child_ms() - spawn_child_before) / static_cast<double>(o.jobs);
    ExecHandlerOptions h;
    h.command = {"/bin/true"};
    h.db_url = ctx.db_url();
    auto handler = make_exec_handler(h);
    std::int64_t completed = 0;
    double cpu_before = cpu_ms(), child_before = child_ms();
    double exec_s = run_bench_worker(ctx, o, *handler, "bench_exec", completed);
    double rate = static_cast<double>(completed) / exec_s;
    double cpu_per_job = (cpu_ms() - cpu_before) / static_cast<double>(std::max<std::int64_t>(1, completed));
    double child_per_job = (child_ms() - child_before) / static_cast<double>(std::max<std::int64_t>(1, completed));
    report(o, "exec", {{"backend", ctx.store().backend()}, {"jobs", completed}, {"concurrency", o.concurrency},
                       {"jobs_per_s", rate}, {"spawns_per_s", spawn_rate}, {"ratio_to_spawn", rate / spawn_rate},
                       {"worker_cpu_ms_per_job", cpu_per_job}, {"spawn_cpu_ms_per_job", spawn_cpu_per_job},
                       {"handler_cpu_ms_per_job", child_per_job}, {"spawn_child_cpu_ms_per_job", spawn_child_per_job}});
    return 0;
}

// Stream handler throughput: the command after `--`, or by default wfq's own line-echo no-op
// handler (`wfq __stream-echo`, the ceiling).
int bench_stream(Context& ctx, BenchOptions& o) {
    start_handler_watchdog();
    StreamHandlerOptions so;
    so.command = ctx.exec_command;
    if (so.command.empty()) {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) throw Error(ErrorCode::failure, "cannot find the wfq binary for the echo handler");
        so.command = {std::string(self, static_cast<std::size_t>(n)), "__stream-echo"};
    }
    so.procs = o.processes;
    so.db_url = ctx.db_url();
    std::int64_t completed = 0;
    double rate;
    {
        auto handler = make_stream_handler(so);
        double s = run_bench_worker(ctx, o, *handler, "bench_stream", completed);
        rate = static_cast<double>(completed) / s;
    }
    std::string command;
    for (const auto& a : so.command) command += (command.empty() ? "" : " ") + a;
    report(o, "stream", {{"backend", ctx.store().backend()}, {"jobs", completed}, {"concurrency", o.concurrency},
                         {"procs", o.processes}, {"handler", command}, {"jobs_per_s", rate}});
    return 0;
}

// The cheapest stream handler: answers {"id":N,"ok":true} to every job line, writing its
// answers in one write per read, for the ceiling of `bench stream`.
int stream_echo() {
    std::string in, out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
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
            if (w <= 0) return 1;
            done += static_cast<std::size_t>(w);
        }
        out.clear();
    }
}

// Bytes stored per pipeline run (naive: full JSON each stage; full+gzip; delta+gzip as wfq
// checkpoints) and the time to encode one checkpoint and to restore the last, over a
// directory of stage contexts (the review-context fixtures).
int bench_state(Context& ctx, BenchOptions& o) {
    namespace fs = std::filesystem;
    if (o.fixtures.empty()) throw Error(ErrorCode::usage, "bench state needs --fixtures DIR (one JSON file per stage)");
    std::error_code ec;
    if (!fs::is_directory(o.fixtures, ec)) throw Error(ErrorCode::usage, "--fixtures: " + o.fixtures + " is not a directory");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(o.fixtures))
        if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error(ErrorCode::usage, "no .json files in " + o.fixtures);
    StateOptions opts;
    opts.summary = {"/pullRequest/number", "/validSuggestions"};
    // A real job whose checkpoints go through the store, as a pipeline writes them.
    Store& store = ctx.store();
    NewJob nj;
    nj.type = "bench_state";
    nj.queue = "bench_state";
    prepare_new_job(nj, ctx.random());
    store.enqueue(nj);
    auto claimed = store.claim_batch({"bench", {"bench_state"}, {"bench_state"}, 1, 600000});
    if (claimed.empty()) throw Error(ErrorCode::failure, "bench state: could not claim its job");
    JobRef ref{claimed[0].id, "bench", claimed[0].attempt};
    std::vector<double> db_write_ms, db_restore_ms;
    std::vector<Checkpoint> chain;
    Json prev;
    int since = 0, seq = 0;
    std::size_t naive = 0, full_gzip = 0, stored = 0;
    std::vector<double> encode_ms, restore_ms;
    json stages = json::array();
    for (const auto& f : files) {
        std::ifstream in(f);
        Json cur = Json::parse(in);
        std::string full = canonical(cur);
        auto t0 = ctx.clock().steady_ns();
        Checkpoint c = encode_checkpoint(++seq, f.stem().string(), prev, cur, since, opts);
        auto t1 = ctx.clock().steady_ns();
        chain.push_back(c);
        Json back = restore_context(chain);
        auto t2 = ctx.clock().steady_ns();
        if (canonical(back) != full) throw Error(ErrorCode::failure, "restore differs at " + f.string());
        auto t3 = ctx.clock().steady_ns();
        store.add_checkpoint(ref, c);
        auto t4 = ctx.clock().steady_ns();
        Json from_db = restore_context(store.load_checkpoints(ref.id));
        auto t5 = ctx.clock().steady_ns();
        if (canonical(from_db) != full) throw Error(ErrorCode::failure, "restore from the database differs at " + f.string());
        db_write_ms.push_back(static_cast<double>(t1 - t0 + t4 - t3) / 1e6);
        db_restore_ms.push_back(static_cast<double>(t5 - t4) / 1e6);
        since = c.kind == "snapshot" ? 0 : since + 1;
        std::size_t fg = gzip_compress(full).size();
        naive += full.size();
        full_gzip += fg;
        stored += c.stored_bytes;
        encode_ms.push_back(static_cast<double>(t1 - t0) / 1e6);
        restore_ms.push_back(static_cast<double>(t2 - t1) / 1e6);
        stages.push_back({{"stage", c.stage}, {"kind", c.kind}, {"full", full.size()}, {"full_gzip", fg},
                          {"stored", c.stored_bytes}, {"encode_ms", encode_ms.back()}, {"restore_ms", restore_ms.back()}});
        prev = std::move(cur);
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    json out{{"stages", files.size()}, {"naive_bytes", naive}, {"full_gzip_bytes", full_gzip}, {"delta_gzip_bytes", stored},
             {"delta_gzip_vs_naive", static_cast<double>(stored) / static_cast<double>(naive)},
             {"encode_p50_ms", median(encode_ms)}, {"restore_p50_ms", median(restore_ms)},
             {"backend", store.backend()}, {"checkpoint_with_write_p50_ms", median(db_write_ms)},
             {"restore_from_db_p50_ms", median(db_restore_ms)}, {"restore_last_from_db_ms", db_restore_ms.back()}};
    store.complete(ref, std::nullopt);
    if (o.json) out["per_stage"] = stages;
    report(o, "state", out);
    return 0;
}

// Config resolution for --jobs jobs spread over --repos repositories of one org, with the cache
// and without it: database reads (each resolution is one read) and time; plus the latency of a
// cached lookup.
int bench_config(Context& ctx, BenchOptions& o) {
    Store& store = ctx.store();
    int repos = std::max(1, o.processes > 1 ? o.processes : 10);
    store.config_set("global", R"({"model":"small","limits":{"files":50}})");
    store.config_set("org:bench", R"({"model":"large"})");
    for (int r = 0; r < repos; ++r)
        store.config_set("org:bench/repo:r" + std::to_string(r), R"({"limits":{"lines":)" + std::to_string(100 * r) + "}}");
    ConfigCache cache(CacheOptions{}, ctx.clock());
    auto start = ctx.clock().steady_ns();
    for (std::int64_t i = 0; i < o.jobs; ++i)
        resolve_config_cached(store, cache, "bench", std::string("r") + std::to_string(i % repos));
    double cached_s = seconds_since(start);
    std::int64_t cached_reads = cache.stats().loads;
    start = ctx.clock().steady_ns();
    for (std::int64_t i = 0; i < o.jobs; ++i) resolve_config(store, "bench", std::string("r") + std::to_string(i % repos));
    double uncached_s = seconds_since(start);
    // Latency of a hit: time each of many lookups of warm keys.
    std::vector<double> ns;
    const int samples = 200000;
    ns.reserve(samples);
    std::vector<std::string> keys;
    for (int r = 0; r < repos; ++r) keys.push_back("r" + std::to_string(r));
    for (int i = 0; i < samples; ++i) {
        const std::string& repo = keys[static_cast<std::size_t>(i % repos)];
        auto t0 = SystemClock::instance().steady_ns();
        resolve_config_cached(store, cache, "bench", repo);
        ns.push_back(static_cast<double>(SystemClock::instance().steady_ns() - t0));
    }
    std::sort(ns.begin(), ns.end());
    report(o, "config", {{"backend", store.backend()}, {"jobs", o.jobs}, {"repos", repos},
                         {"db_reads_cached", cached_reads}, {"db_reads_uncached", o.jobs},
                         {"seconds_cached", cached_s}, {"seconds_uncached", uncached_s},
                         {"hit_p50_us", ns[ns.size() / 2] / 1000.0}, {"hit_p99_us", ns[ns.size() * 99 / 100] / 1000.0}});
    return 0;
}

int run_bench(Context& ctx, BenchOptions& o) {
    if (ctx.log_level == "info") log::configure("warn", ctx.log_format);  // per-job lines would drown the numbers
    if (o.jobs < 1 || o.samples < 1 || o.concurrency < 1 || o.batch_size < 1 || o.processes < 1)
        throw Error(ErrorCode::usage, "bench sizes must be positive");
    if (o.what == "enqueue") return bench_enqueue(ctx, o);
    if (o.what == "work") return bench_work(ctx, o);
    if (o.what == "latency") return bench_latency(ctx, o);
    if (o.what == "locks") return bench_locks(ctx, o);
    if (o.what == "spawn") return bench_spawn(ctx, o);
    if (o.what == "exec") return bench_exec(ctx, o);
    if (o.what == "stream") return bench_stream(ctx, o);
    if (o.what == "state") return bench_state(ctx, o);
    if (o.what == "config") return bench_config(ctx, o);
    throw Error(ErrorCode::usage, "unknown benchmark '" + o.what + "' (enqueue, work, latency, locks, spawn, exec, stream, state, config)");
}

}  // namespace

void add_bench_command(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<BenchOptions>();
    auto* sub = app.add_subcommand(
        "bench", "Measure throughput, latency and sizes (enqueue, work, latency, locks, spawn, exec, stream, state, config)");
    sub->add_option("benchmark", o->what,
                    "enqueue, work, latency, locks, spawn, exec, stream [-- CMD ARG...] (default: a C++ echo handler), state or config")
        ->required();
    sub->add_option("--jobs", o->jobs, "Jobs (or lock cycles per process, or spawns)")->capture_default_str();
    sub->add_option("--concurrency", o->concurrency, "Worker concurrency for `work`, `exec`, `stream`, `spawn`")->capture_default_str();
    sub->add_option("--prefetch", o->prefetch, "Jobs claimed beyond the free slots for `work`, `exec`, `stream` (default: the worker's)");
    sub->add_option("--batch-size", o->batch_size, "Jobs per enqueue transaction")->capture_default_str();
    sub->add_option("--processes", o->processes,
                    "Processes contending for one lock (for `config`: repositories; for `stream`: handler processes)")
        ->capture_default_str();
    sub->add_option("--samples", o->samples, "Samples for `latency`")->capture_default_str();
    sub->add_option("--fixtures", o->fixtures, "Directory of stage contexts for `state`");
    sub->add_flag("--json", o->json, "Print one JSON object per benchmark");
    on_run(sub, ctx, o, run_bench);
    auto* echo = app.add_subcommand("__stream-echo", "")->group("");  // hidden: the handler of `bench stream`
    echo->callback([&ctx] { ctx.action = [] { return stream_echo(); }; });
}

}  // namespace wfq::cli
