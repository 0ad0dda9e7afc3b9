#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/file.h>
#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>
#include <wfq/trace.h>
#include <wfq/worker.h>

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <cstdlib>
#include <unistd.h>

namespace wfq {
namespace {

// A private (0600) temporary file holding data; the caller removes it.
std::string write_temp_file(const std::string& data) {
    const char* dir = std::getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/tmp") + "/wfq-config-XXXXXX";
    int fd = mkstemp(path.data());
    if (fd < 0) throw Error(ErrorCode::failure, "cannot create a temporary config file in " + path);
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return path;
}

class ExecHandler final : public Handler {
public:
    explicit ExecHandler(ExecHandlerOptions options) : m_options(std::move(options)) {}

    HandlerResult run(const Job& job, const std::atomic<bool>& cancel) override {
        ProcessSpec spec = handler_process(job, m_options, m_options.command, cancel);
        std::string config_file;
        if (job.config) {
            config_file = write_temp_file(*job.config);
            spec.env.push_back("WFQ_CONFIG_FILE=" + config_file);
        }
        spec.stdin_data = job.payload;
        spec.timeout_ms = m_options.timeout_ms;
        ProcessResult p = run_process(spec);
        if (!config_file.empty()) ::unlink(config_file.c_str());

        HandlerResult r;
        r.exit_code = p.exit_code;
        r.error = p.stderr_tail;
        if (p.spawn_failed) {
            r.outcome = HandlerResult::Outcome::failure;
            r.exit_code = 127;
            r.error = p.spawn_error;
        } else if (p.cancelled) {
            r.outcome = HandlerResult::Outcome::cancelled;
        } else if (p.timed_out) {
            r.outcome = HandlerResult::Outcome::timeout;
            r.error = "timed out after " + format_duration_ms(m_options.timeout_ms) + (r.error.empty() ? "" : ": " + r.error);
        } else if (p.term_signal) {
            r.outcome = HandlerResult::Outcome::crash;
            r.error = "killed by signal " + std::to_string(p.term_signal) + (r.error.empty() ? "" : ": " + r.error);
        } else if (p.exit_code != 0) {
            r.outcome = HandlerResult::Outcome::failure;
            if (r.error.empty()) r.error = "exit code " + std::to_string(p.exit_code);
        } else {
            r.outcome = HandlerResult::Outcome::success;
            // Output the queue cannot keep (over the cap, not JSON, \u0000, too deep): the job
            // still completes, without a result, and the log says why.
            std::string why_not;
            r.output = result_to_keep(p.stdout_data, p.stdout_truncated, why_not);
            if (!why_not.empty()) log::warn(why_not + "; result not kept", {{"job_id", std::to_string(job.id)}});
        }
        return r;
    }

private:
    ExecHandlerOptions m_options;
};

std::string make_worker_id(Random& random) {
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%06x", static_cast<unsigned>(random.next_u64() & 0xffffff));
    return host_name() + "-" + std::to_string(getpid()) + "-" + suffix;
}

}  // namespace

ProcessSpec handler_process(const Job& job, const ExecHandlerOptions& options, const std::vector<std::string>& command,
                            const std::atomic<bool>& cancel) {
    static const std::vector<std::string> base = current_environment(
        {"WFQ_JOB_ID", "WFQ_JOB_TYPE", "WFQ_QUEUE", "WFQ_ATTEMPT", "WFQ_MAX_ATTEMPTS", "WFQ_CORRELATION_ID", "WFQ_DB",
         "TRACEPARENT", "TRACESTATE", "WFQ_CONFIG_FILE", "WFQ_STAGE"});
    ProcessSpec spec;
    spec.argv = command;
    spec.env = base;
    spec.env.push_back("WFQ_JOB_ID=" + std::to_string(job.id));
    spec.env.push_back("WFQ_JOB_TYPE=" + job.type);
    spec.env.push_back("WFQ_QUEUE=" + job.queue);
    spec.env.push_back("WFQ_ATTEMPT=" + std::to_string(job.attempt));
    spec.env.push_back("WFQ_MAX_ATTEMPTS=" + std::to_string(job.max_attempts));
    spec.env.push_back("WFQ_CORRELATION_ID=" + job.correlation_id);
    spec.env.push_back("WFQ_DB=" + options.db_url);
    if (job.traceparent) spec.env.push_back("TRACEPARENT=" + *job.traceparent);  // the attempt's (or stage's) span
    if (job.tracestate) spec.env.push_back("TRACESTATE=" + *job.tracestate);
    spec.kill_grace_ms = options.kill_grace_ms;
    spec.cancel = &cancel;
    std::string id = std::to_string(job.id), type = job.type, attempt = std::to_string(job.attempt),
                correlation = job.correlation_id;
    spec.on_stderr_line = [id, type, attempt, correlation](const std::string& line) {
        log::info(line, {{"job_id", id}, {"type", type}, {"attempt", attempt}, {"correlation_id", correlation},
                         {"stream", "stderr"}});
    };
    return spec;
}

std::unique_ptr<Handler> make_exec_handler(const ExecHandlerOptions& options) {
    if (options.command.empty()) throw Error(ErrorCode::usage, "--exec needs a command");
    return std::make_unique<ExecHandler>(options);
}

std::optional<RescueReport> rescue_once(Store& store, const std::string& owner, std::int64_t dead_after_ms) {
    const std::string key = "wfq:rescuer";
    auto grant = store.lock_acquire(key, owner, 60000);
    if (!grant) return std::nullopt;
    RescueReport report;
    try {
        report = store.rescue(dead_after_ms);
    } catch (...) {
        store.lock_release(key, grant->token);
        throw;
    }
    store.lock_release(key, grant->token);
    return report;
}

struct Worker::Impl {
    struct Slot {
        JobRef ref;
        std::atomic<bool> cancel{false};
        std::atomic<bool> lost{false};
        std::atomic<bool> shutting_down{false};
        std::int64_t claim_start_ns = 0, claim_end_ns = 0;  // unix time
    };

    Store& store;
    Handler& handler;
    WorkerOptions options;
    Clock& clock;
    Random& random;
    std::string worker_id;

    std::mutex mutex;
    std::condition_variable cv;
    std::map<std::int64_t, std::shared_ptr<Slot>> in_flight;  // claimed, queued or running
    std::deque<std::pair<Job, std::shared_ptr<Slot>>> queue;
    bool closing = false;
    WorkerStats stats;
    std::unique_ptr<ConfigCache> cache;
    std::unique_ptr<Tracer> own_tracer;  // when options.tracer is null
    Tracer* tracer = nullptr;
    WorkerMetrics metrics;

    Impl(Store& s, Handler& h, WorkerOptions o, Clock& c, Random& r)
        : store(s), handler(h), options(std::move(o)), clock(c), random(r), worker_id(make_worker_id(r)) {
        if (options.concurrency < 1) throw Error(ErrorCode::usage, "--concurrency must be at least 1");
        if (options.lease_ms < 1000) throw Error(ErrorCode::usage, "--lease must be at least 1s");
        if (options.heartbeat_ms <= 0) options.heartbeat_ms = std::max<std::int64_t>(100, options.lease_ms / 3);
        if (options.resolve_config) cache = std::make_unique<ConfigCache>(options.cache, clock);
        tracer = options.tracer;
        if (!tracer) {
            own_tracer = std::make_unique<Tracer>(TracerOptions{}, random);
            tracer = own_tracer.get();
        }
    }

    void write_metrics_file() {
        if (options.metrics_file.empty()) return;
        try {
            write_file_atomically(options.metrics_file, metrics.render(worker_id, cache ? cache->stats() : CacheStats{}));
        } catch (const std::exception& e) {
            log::warn(std::string("cannot write the metrics file: ") + e.what());
        }
    }

    std::int64_t elapsed_ms(std::int64_t start_ns) const { return (clock.steady_ns() - start_ns) / 1'000'000; }

    std::string stats_json() {
        std::lock_guard<std::mutex> lock(mutex);
        nlohmann::json j{{"claimed", stats.claimed},     {"completed", stats.completed}, {"retried", stats.retried},
                         {"failed", stats.failed},       {"released", stats.released},   {"lost", stats.lost},
                         {"rescued", stats.rescued}};
        if (cache) j["cache"] = nlohmann::json::parse(cache->stats().to_json());
        return j.dump();
    }

    void execute(const Job& job, Slot& slot) {
        const std::int64_t started = clock.steady_ns();
        std::optional<TraceContext> parent;
        if (job.traceparent) parent = parse_traceparent(*job.traceparent);
        SpanRecord span = tracer->start("process " + job.queue, SpanKind::consumer, parent);
        span.start_ns = slot.claim_start_ns;
        span.set("messaging.system", std::string("wfq"));
        span.set("messaging.operation.name", std::string("process"));
        span.set("messaging.operation.type", std::string("process"));
        span.set("messaging.destination.name", job.queue);
        span.set("messaging.message.id", std::to_string(job.id));
        span.set("wfq.job.type", job.type);
        span.set("wfq.job.attempt", std::int64_t(job.attempt));
        span.set("wfq.worker.id", worker_id);
        std::vector<SpanRecord> spans;
        SpanRecord claim_span = tracer->child("claim", span);
        claim_span.start_ns = slot.claim_start_ns;
        claim_span.end_ns = slot.claim_end_ns;
        spans.push_back(claim_span);

        log::Fields fields{{"job_id", std::to_string(job.id)}, {"type", job.type}, {"attempt", std::to_string(job.attempt)},
                           {"correlation_id", job.correlation_id}, {"trace_id", span.trace_id}, {"worker_id", worker_id}};
        log::debug("job started", fields);
        HandlerResult r;
        Job attempt = job;
        attempt.traceparent = span.context().to_traceparent();  // handlers run in the attempt's span
        try {
            auto [org, repo] = options.config_scope ? options.config_scope(job)
                                                     : std::make_pair(job.org, job.repo);
            if (cache && org) {
                SpanRecord cfg = tracer->child("resolve_config", span);
                try {
                    attempt.config = resolve_config_cached(store, *cache, *org, repo);
                } catch (const std::exception& e) {
                    cfg.fail(e.what());
                    tracer->end(cfg);
                    spans.push_back(cfg);
                    throw;
                }
                tracer->end(cfg);
                spans.push_back(cfg);
            }
            r = handler.run(attempt, slot.cancel);
        } catch (const Error& e) {
            r.outcome = HandlerResult::Outcome::failure;
            r.exit_code = -1;
            r.error = std::string("could not resolve the job's config: ") + e.what();
        }
        for (auto& s : r.spans) spans.push_back(std::move(s));
        // Ends the attempt's span with the outcome about to be recorded and returns the spans as
        // OTLP JSON, so that they are stored in the same transaction as the outcome.
        std::vector<std::string> span_json;
        bool finished = false;
        auto finish = [&](const std::string& outcome) -> const std::vector<std::string>& {
            if (finished) return span_json;
            finished = true;
            span.set("wfq.outcome", outcome);
            if (r.outcome != HandlerResult::Outcome::success && r.outcome != HandlerResult::Outcome::parked &&
                r.outcome != HandlerResult::Outcome::deferred) {
                std::string tail = r.error.size() > 500 ? r.error.substr(r.error.size() - 500) : r.error;
                span.fail(tail.empty() ? outcome : tail);
            }
            tracer->end(span);
            spans.push_back(span);
            if (span.sampled)
                for (const auto& s : spans) {
                    span_json.push_back(s.to_otlp_json());
                    tracer->export_span(s);
                }
            return span_json;
        };
        bool spans_stored = false;
        std::string outcome = record_outcome(job, slot, r, fields, finish, spans_stored);
        finish(outcome);
        metrics.job_finished(outcome, static_cast<double>(clock.steady_ns() - started) / 1e9);
        for (double s : r.stage_seconds) metrics.stage_finished(s);
        if (!spans_stored && !span_json.empty()) {
            try {
                store.add_job_spans(job.id, job.attempt, span_json);
            } catch (const std::exception& e) {
                log::warn(std::string("could not store the job's spans: ") + e.what(), fields);
            }
        }
    }

    // Records the attempt's outcome in the store; returns its name for metrics and spans.
    std::string record_outcome(const Job& job, Slot& slot, const HandlerResult& r, log::Fields fields,
                               const std::function<const std::vector<std::string>&(const std::string&)>& finish,
                               bool& spans_stored) {
        auto count = [&](std::int64_t WorkerStats::*field) {
            std::lock_guard<std::mutex> lock(mutex);
            ++(stats.*field);
        };
        if (r.outcome == HandlerResult::Outcome::parked) {
            log::info("job waiting for an event", fields);
            return "parked";
        }
        if (r.outcome == HandlerResult::Outcome::deferred) {
            log::info("job deferred: " + r.error, fields);
            return "deferred";
        }
        if (r.outcome == HandlerResult::Outcome::cancelled) {
            if (slot.shutting_down && store.release(slot.ref, "worker stopped before the job finished")) {
                count(&WorkerStats::released);
                log::warn("job given back unfinished", fields);
                return "released";
            }
            count(&WorkerStats::lost);
            log::warn("job stopped: its lease was lost (rescued, cancelled or taken over)", fields);
            return "lost";
        }
        if (r.outcome == HandlerResult::Outcome::success) {
            if (store.complete(slot.ref, r.output, finish("completed"))) {
                spans_stored = true;
                count(&WorkerStats::completed);
                log::info("job completed", fields);
                return "completed";
            }
            count(&WorkerStats::lost);
            log::warn("job finished but its lease was lost; result not recorded", fields);
            return "lost";
        }
        std::string error_class = !r.error_class.empty()                      ? r.error_class
                                  : r.outcome == HandlerResult::Outcome::timeout ? "timeout"
                                  : r.outcome == HandlerResult::Outcome::crash   ? "crash"
                                  : r.exit_code == -1                            ? "config"
                                                                                 : "exit_code";
        auto typed = options.type_policies.find(job.type);
        const JobPolicy& policy = typed != options.type_policies.end() ? typed->second : options.policy;
        bool permanent = r.permanent ||
                         (r.outcome == HandlerResult::Outcome::failure && policy.permanent_exit_codes.count(r.exit_code));
        Failure f = decide_failure(job, policy, error_class, r.error, permanent, random);
        if (!store.fail(slot.ref, f, finish(f.retry_in_ms ? "retried" : "failed"))) {
            count(&WorkerStats::lost);
            return "lost";
        }
        spans_stored = true;
        fields.emplace_back("error_class", error_class);
        fields.emplace_back("exit_code", std::to_string(r.exit_code));
        if (f.retry_in_ms) {
            count(&WorkerStats::retried);
            fields.emplace_back("retry_in", format_duration_ms(*f.retry_in_ms));
            log::warn("job failed; retry scheduled", fields);
            return "retried";
        }
        count(&WorkerStats::failed);
        log::error(permanent ? "job failed permanently" : "job failed; attempts exhausted", fields);
        return "failed";
    }

    void executor_loop() {
        for (;;) {
            std::pair<Job, std::shared_ptr<Slot>> item;
            {
                std::unique_lock<std::mutex> lock(mutex);
                cv.wait(lock, [&] { return closing || !queue.empty(); });
                if (queue.empty()) return;
                item = std::move(queue.front());
                queue.pop_front();
            }
            try {
                if (item.second->cancel) {
                    // Stopped before it started: give it back untouched.
                    if (store.release(item.second->ref, "worker stopped before the job started")) {
                        std::lock_guard<std::mutex> lock(mutex);
                        ++stats.released;
                    }
                } else {
                    execute(item.first, *item.second);
                }
            } catch (const std::exception& e) {
                log::error(std::string("recording the job's outcome failed; it will be rescued: ") + e.what(),
                           {{"job_id", std::to_string(item.first.id)}});
            }
            {
                std::lock_guard<std::mutex> lock(mutex);
                in_flight.erase(item.first.id);
            }
            cv.notify_all();
        }
    }

    // Renews leases and publishes the heartbeat every heartbeat_ms; rescues every
    // rescue_interval_ms. Wakes at whichever is due first.
    void heartbeat_loop(std::int64_t start_ns) {
        std::int64_t next_beat = 0, next_rescue = 0;
        for (;;) {
            std::int64_t now = elapsed_ms(start_ns);
            std::int64_t next = next_beat;
            if (options.rescue_interval_ms > 0) next = std::min(next, next_rescue);
            std::vector<std::shared_ptr<Slot>> slots;
            {
                std::unique_lock<std::mutex> lock(mutex);
                cv.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(0, next - now)),
                            [&] { return closing && in_flight.empty(); });
                if (closing && in_flight.empty()) return;
                for (auto& [id, slot] : in_flight) slots.push_back(slot);
            }
            now = elapsed_ms(start_ns);
            try {
                if (now >= next_beat) {
                    next_beat = now + options.heartbeat_ms;
                    beat(slots);
                }
                if (options.rescue_interval_ms > 0 && now >= next_rescue) {
                    next_rescue = now + options.rescue_interval_ms;
                    rescue();
                }
            } catch (const std::exception& e) {
                log::warn(std::string("heartbeat failed: ") + e.what(), {{"worker_id", worker_id}});
            }
        }
    }

    void beat(const std::vector<std::shared_ptr<Slot>>& slots) {
        std::vector<JobRef> refs;
        for (auto& s : slots) refs.push_back(s->ref);
        for (auto id : store.renew_leases(refs, options.lease_ms)) {
            for (auto& s : slots)
                if (s->ref.id == id && !s->shutting_down) {
                    s->lost = true;
                    s->cancel = true;
                }
        }
        store.heartbeat(worker_id, static_cast<int>(slots.size()), stats_json());
        tracer->flush();
        write_metrics_file();
    }

    void rescue() {
        auto report = rescue_once(store, worker_id, options.dead_after_ms);
        if (!report) return;
        metrics.rescued(static_cast<std::int64_t>(report->requeued.size() + report->failed.size()));
        std::lock_guard<std::mutex> lock(mutex);
        stats.rescued += static_cast<std::int64_t>(report->requeued.size() + report->failed.size());
        for (auto id : report->requeued) log::warn("rescued job", {{"job_id", std::to_string(id)}, {"to", "pending"}});
        for (auto id : report->failed) log::warn("rescued job", {{"job_id", std::to_string(id)}, {"to", "failed"}});
    }

    // Applies config invalidations to the cache until the worker closes.
    void config_watch_loop() {
        std::unique_ptr<ConfigWatcher> watcher;
        for (;;) {
            {
                std::lock_guard<std::mutex> lock(mutex);
                if (closing) return;
            }
            try {
                if (!watcher) {
                    watcher = store.open_config_watcher();
                    cache->clear();  // changes made while we were not watching are unknown
                }
                for (const auto& scope : watcher->poll(options.config_poll_ms)) {
                    cache->invalidate_scope(scope);
                    log::debug("config cache invalidated", {{"scope", scope}, {"worker_id", worker_id}});
                }
            } catch (const std::exception& e) {
                watcher.reset();
                log::warn(std::string("config watcher failed: ") + e.what(), {{"worker_id", worker_id}});
                std::unique_lock<std::mutex> lock(mutex);
                cv.wait_for(lock, std::chrono::milliseconds(options.config_poll_ms), [&] { return closing; });
            }
        }
    }

    std::size_t busy() {
        std::lock_guard<std::mutex> lock(mutex);
        return in_flight.size();
    }

    WorkerStats run(const std::atomic<bool>& stop) {
        const std::int64_t start_ns = clock.steady_ns();
        WorkerInfo info;
        info.id = worker_id;
        info.hostname = host_name();
        info.pid = getpid();
        info.queues = options.queues;
        info.types = options.types;
        store.register_worker(info);
        auto waker = store.open_waker();
        log::info("worker started", {{"worker_id", worker_id}, {"concurrency", std::to_string(options.concurrency)}});

        std::vector<std::thread> pool;
        for (int i = 0; i < options.concurrency; ++i) pool.emplace_back([this] { executor_loop(); });
        std::thread beat([this, start_ns] { heartbeat_loop(start_ns); });
        std::thread config_watch;
        if (cache) config_watch = std::thread([this] { config_watch_loop(); });

        bool interrupted = false;
        try {
            main_loop(stop, start_ns, *waker, interrupted);
        } catch (...) {
            shutdown(pool, beat, true);
            if (config_watch.joinable()) config_watch.join();
            throw;
        }
        shutdown(pool, beat, interrupted || (options.max_time_ms > 0 && elapsed_ms(start_ns) >= options.max_time_ms));
        if (config_watch.joinable()) config_watch.join();
        try {
            tracer->flush();
        } catch (const std::exception& e) {
            log::warn(std::string("could not write spans: ") + e.what());
        }
        write_metrics_file();
        try {
            store.deregister_worker(worker_id);
        } catch (const std::exception& e) {
            log::warn(std::string("could not deregister: ") + e.what());
        }
        std::lock_guard<std::mutex> lock(mutex);
        stats.interrupted = interrupted;
        if (cache) stats.cache = cache->stats();
        return stats;
    }

    void main_loop(const std::atomic<bool>& stop, std::int64_t start_ns, Waker& waker, bool& interrupted) {
        for (;;) {
            if (stop) {
                interrupted = true;
                return;
            }
            std::int64_t elapsed = elapsed_ms(start_ns);
            if (options.max_time_ms > 0 && elapsed >= options.max_time_ms) return;
            std::int64_t claimed;
            {
                std::lock_guard<std::mutex> lock(mutex);
                claimed = stats.claimed;
            }
            if (options.max_jobs > 0 && claimed >= options.max_jobs) return;
            std::int64_t free = options.concurrency - static_cast<std::int64_t>(busy());
            if (free <= 0) {
                std::unique_lock<std::mutex> lock(mutex);
                cv.wait_for(lock, std::chrono::milliseconds(100),
                            [&] { return static_cast<int>(in_flight.size()) < options.concurrency; });
                continue;
            }
            if (options.max_jobs > 0) free = std::min(free, options.max_jobs - claimed);
            ClaimRequest req{worker_id, options.queues, options.types, static_cast<int>(free), options.lease_ms};
            const std::int64_t claim_start = unix_now_ns(), claim_steady = clock.steady_ns();
            auto jobs = store.claim_batch(req);
            const std::int64_t claim_end = unix_now_ns();
            metrics.claim(static_cast<double>(clock.steady_ns() - claim_steady) / 1e9, jobs.size());
            if (!jobs.empty()) {
                std::lock_guard<std::mutex> lock(mutex);
                for (auto& job : jobs) {
                    auto slot = std::make_shared<Slot>();
                    slot->ref = JobRef{job.id, worker_id, job.attempt};
                    slot->claim_start_ns = claim_start;
                    slot->claim_end_ns = claim_end;
                    in_flight[job.id] = slot;
                    queue.emplace_back(std::move(job), slot);
                    ++stats.claimed;
                }
                cv.notify_all();
                continue;
            }
            // Idle: sleep until an enqueue wakes us, a slot frees, the next scheduled job is due,
            // or the poll interval passes, in short slices so that a stop request is seen promptly.
            std::int64_t wait_ms = options.poll_ms;
            if (auto due = store.next_due(options.queues, options.types)) {
                // A job already due but not claimed is blocked (its lock key is busy): poll.
                std::int64_t until_due = *due - store.db_now();
                if (until_due > 0) wait_ms = std::min(wait_ms, until_due);
                else metrics.lock_wait();
            }
            // --until-empty: nothing running here, nothing claimable, nothing due within the poll.
            if (options.until_empty && busy() == 0 && wait_ms >= options.poll_ms) return;
            std::int64_t waited = 0;
            std::size_t busy_before = busy();
            while (waited < wait_ms && !stop) {
                std::int64_t slice = std::min<std::int64_t>(100, wait_ms - waited);
                if (options.max_time_ms > 0)
                    slice = std::max<std::int64_t>(1, std::min(slice, options.max_time_ms - elapsed_ms(start_ns)));
                if (waker.wait(slice)) break;
                waited += slice;
                if (busy() != busy_before) break;  // a job finished: it may have freed a lock key
                if (options.max_time_ms > 0 && elapsed_ms(start_ns) >= options.max_time_ms) break;
            }
        }
    }

    // stopping (a signal or the time budget): jobs not started go back at once, running ones
    // get the grace period. Otherwise (max jobs, until empty) every claimed job runs to the end.
    void shutdown(std::vector<std::thread>& pool, std::thread& beat, bool stopping) {
        if (stopping) {
            std::lock_guard<std::mutex> lock(mutex);
            for (auto& [job, slot] : queue) {
                slot->shutting_down = true;
                slot->cancel = true;
            }
        }
        if (stopping) {
            std::unique_lock<std::mutex> lock(mutex);
            if (!cv.wait_for(lock, std::chrono::milliseconds(options.grace_ms), [&] { return in_flight.empty(); })) {
                log::warn("grace period over; stopping handlers and giving their jobs back",
                          {{"running", std::to_string(in_flight.size())}});
                for (auto& [id, slot] : in_flight) {
                    slot->shutting_down = true;
                    slot->cancel = true;
                }
            }
        }
        {
            std::lock_guard<std::mutex> lock(mutex);
            closing = true;
        }
        cv.notify_all();
        for (auto& t : pool) t.join();
        cv.notify_all();
        beat.join();
    }
};

Worker::Worker(Store& store, Handler& handler, WorkerOptions options, Clock& clock, Random& random)
    : m_impl(std::make_unique<Impl>(store, handler, std::move(options), clock, random)) {}
Worker::~Worker() = default;
const std::string& Worker::id() const { return m_impl->worker_id; }
WorkerStats Worker::run(const std::atomic<bool>& stop) { return m_impl->run(stop); }

}  // namespace wfq
