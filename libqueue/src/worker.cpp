// The worker: wires the engine's services together (libqueue/src/engine/, docs/ARCHITECTURE.md)
// and owns their start and stop. The claimer runs on the caller's thread; executors, completer,
// lease keeper, maintenance and watchers on threads of their own; the slot table is what they
// share.
#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>
#include <wfq/trace.h>
#include <wfq/worker.h>

#include "engine/claimer.h"
#include "engine/completer.h"
#include "engine/executor.h"
#include "engine/executor_pool.h"
#include "engine/lease_fence.h"
#include "engine/lease_keeper.h"
#include "engine/maintenance.h"
#include "engine/metrics_server.h"
#include "engine/outage.h"
#include "engine/reporter.h"
#include "engine/slot_table.h"
#include "engine/statsd_sink.h"
#include "engine/watchers.h"

#include <cstdio>
#include <algorithm>
#include <thread>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace wfq {
namespace {

// A busy worker allocates and frees the same few hundred KB at every claim and flush (a batch of
// up to 500 rows, its jobs and their lines). With glibc's defaults the heap's free top is given
// back to the kernel after each (and chunks over the dynamic mmap threshold are unmapped), then
// faulted in page by page again: 1.7 page faults per job, a sixth of the worker's CPU on the
// stream path (bench/README.md, issue 28). Keep up to 64 MiB of freed heap instead.
void keep_freed_heap() {
#ifdef __GLIBC__
    static const bool once = [] {
        mallopt(M_TRIM_THRESHOLD, 64 << 20);
        mallopt(M_MMAP_THRESHOLD, 16 << 20);
        return true;
    }();
    (void)once;
#endif
}

std::string make_worker_id(Random& random) {
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%06x", static_cast<unsigned>(random.next_u64() & 0xffffff));
    return host_name() + "-" + std::to_string(getpid()) + "-" + suffix;
}

WorkerOptions checked(WorkerOptions options) {
    if (options.concurrency < 1) throw Error(ErrorCode::usage, "--concurrency must be at least 1");
    if (options.lease_ms < 1000) throw Error(ErrorCode::usage, "--lease must be at least 1s");
    if (options.heartbeat_ms <= 0) options.heartbeat_ms = std::max<std::int64_t>(100, options.lease_ms / 3);
    if (options.max_outage_ms <= 0) throw Error(ErrorCode::usage, "--max-outage must be positive");
    return options;
}

}  // namespace

bool worker_alive(const WorkerInfo& worker, TimeMs now, std::int64_t dead_after_ms) {
    return now - worker.last_heartbeat < dead_after_ms;
}

struct Worker::Impl {
    Store& store;
    Handler& handler;
    const WorkerOptions options;
    Clock& clock;
    Random& random;
    const std::string worker_id;
    std::unique_ptr<ConfigCache> cache;
    std::unique_ptr<Tracer> own_tracer;  // when options.tracer is null
    Tracer* tracer;
    WorkerMetrics metrics;
    engine::OutageMonitor outage;
    engine::SlotTable table;

    Impl(Store& s, Handler& h, WorkerOptions o, Clock& c, Random& r)
        : store(s), handler(h), options(checked(std::move(o))), clock(c), random(r), worker_id(make_worker_id(r)),
          cache(options.resolve_config ? std::make_unique<ConfigCache>(options.cache, clock) : nullptr),
          own_tracer(options.tracer ? nullptr : std::make_unique<Tracer>(TracerOptions{}, random)),
          tracer(options.tracer ? options.tracer : own_tracer.get()),
          outage(clock, options.max_outage_ms, worker_id),
          table(worker_id, options.lease_ms, options.concurrency, options.prefetch, options.max_jobs) {
        table.track_retries(options.until_empty);
    }

    WorkerStats run(const std::atomic<bool>& stop) {
        keep_freed_heap();
        const std::int64_t start_ns = clock.steady_ns();
        // Each role on a connection of its own where the backend benefits (PostgreSQL): the
        // completer and the lease keeper; the claimer, maintenance and the watchers' opening
        // share `store`. On SQLite these stay null and every role shares `store` (one writer
        // per process).
        std::unique_ptr<Store> completer_conn = store.open_sibling(), keeper_conn = store.open_sibling();
        for (Store* s : {&store, completer_conn.get(), keeper_conn.get()})
            if (s) s->set_in_doubt_wait_ms(options.max_outage_ms);
        std::unique_ptr<engine::StatsdSink> statsd = options.statsd ? std::make_unique<engine::StatsdSink>(*options.statsd) : nullptr;
        engine::Reporter reporter(table, metrics, cache.get(), *tracer, clock, options.metrics_file, worker_id, statsd.get());
        std::unique_ptr<engine::MetricsServer> metrics_server;
        if (options.metrics_listen) {
            metrics_server = std::make_unique<engine::MetricsServer>(*options.metrics_listen, [&reporter] { return reporter.scrape(); });
            metrics_server->start();  // before the worker registers: an address in use stops it first
        }
        WorkerInfo info;
        info.id = worker_id;
        info.hostname = host_name();
        info.pid = getpid();
        info.queues = options.queues;
        info.types = options.types;
        store.register_worker(info);
        auto waker = store.open_waker();
        log::info("worker started", {{"worker_id", worker_id}, {"concurrency", std::to_string(options.concurrency)}});

        engine::Claimer claimer(store, table, outage, metrics, clock, options, worker_id,
                                /*piggyback_unkeyed_only=*/completer_conn != nullptr);
        engine::Completer::Options copts;
        if (completer_conn) copts.nice = 10;  // PostgreSQL: see Completer::Options::nice
        if (statsd) copts.batch_done = [&reporter] { reporter.batch_reported(); };
        copts.live_logs = options.live_logs;
        copts.clock = &clock;
        copts.live_log_interval_ms = options.live_log_interval_ms;
        engine::Completer completer(
            completer_conn ? *completer_conn : store, claimer,
            [&reporter](const engine::Finished& f, const Outcome& o, OutcomeStatus st, bool unknown) {
                reporter.recorded(f, o, st, unknown);
            },
            outage, copts);
        engine::Executor executor(handler, *tracer, store, cache.get(), options, clock, random, worker_id);
        engine::ExecutorPool pool(table, executor, completer, reporter);
        engine::LeaseKeeper keeper(keeper_conn ? *keeper_conn : store, table, outage, clock, options.lease_ms,
                                   options.heartbeat_ms, worker_id, [&reporter] { return reporter.stats_json(); });
        engine::Maintenance maintenance(store, outage, reporter, clock, options, worker_id);
        engine::Watchers watchers(store, table, cache.get(), options.config_poll_ms, worker_id);

        completer.start();
        pool.start(options.concurrency);
        std::thread keeper_thread([&keeper] {
            name_this_thread("wfq-keeper");
            keeper.run();
        });
        // Self-fencing never waits for the database: a thread of its own (DESIGN.md "Faults").
        engine::LeaseFence fence(table, outage, clock, options.lease_ms, options.heartbeat_ms,
                                 [&keeper] { return keeper.renewal_since_ns(); });
        std::thread fence_thread([&fence] {
            name_this_thread("wfq-fence");
            fence.run();
        });
        maintenance.start();
        watchers.start();
        auto stop_services = [&](bool stopping) {
            shutdown(stopping, pool, completer, watchers);
            keeper_thread.join();
            fence_thread.join();
            maintenance.stop();
            watchers.join();
        };

        bool interrupted = false;
        try {
            claimer.run(stop, start_ns, *waker, interrupted);
        } catch (...) {
            stop_services(true);
            throw;
        }
        stop_services(interrupted || (options.max_time_ms > 0 && clock.steady_ns() - start_ns >= options.max_time_ms * 1'000'000));
        reporter.flush();
        if (metrics_server) metrics_server->stop();
        try {
            store.deregister_worker(worker_id);
        } catch (const std::exception& e) {
            log::warn(std::string("could not deregister: ") + e.what());
        }
        if (options.until_empty && !interrupted) {
            try {
                claimer.awaiting_own_retries();  // forget those claimed elsewhere meanwhile
            } catch (const std::exception&) {
            }
        }
        WorkerStats stats = table.stats();
        stats.interrupted = interrupted;
        table.fill_retries(stats, clock.steady_ns() / 1'000'000);
        if (cache) stats.cache = cache->stats();
        return stats;
    }

    // stopping (a signal or the time budget): jobs not started go back at once, running ones
    // get the grace period. Otherwise (max jobs, until empty) every claimed job runs to the end
    // and its outcome is recorded (or the outage limit passes). Then the executors end, the
    // completer records what is left, and the keeper stops.
    void shutdown(bool stopping, engine::ExecutorPool& pool, engine::Completer& completer, engine::Watchers& watchers) {
        table.stop_claims();
        if (stopping) {
            table.release_waiting();
            table.drain_within(options.grace_ms);
        } else {
            table.drain([this] { return outage.exceeded(); });
        }
        table.close();
        watchers.close();
        pool.join();
        completer.stop();
        table.clear();
    }
};

Worker::Worker(Store& store, Handler& handler, WorkerOptions options, Clock& clock, Random& random)
    : m_impl(std::make_unique<Impl>(store, handler, std::move(options), clock, random)) {}
Worker::~Worker() = default;
const std::string& Worker::id() const { return m_impl->worker_id; }
WorkerStats Worker::run(const std::atomic<bool>& stop) { return m_impl->run(stop); }

}  // namespace wfq
