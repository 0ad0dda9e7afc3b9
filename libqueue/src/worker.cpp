#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/file.h>
#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>
#include <wfq/schedule.h>
#include <wfq/trace.h>
#include <wfq/worker.h>

#include "engine/claimer.h"
#include "engine/completer.h"
#include "engine/executor.h"
#include "engine/lease_keeper.h"
#include "engine/outage.h"
#include "engine/slot.h"

#include <nlohmann/json.hpp>

#include <algorithm>
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

// {"$snooze": "30s"} and nothing else: the delay. error is set when $snooze is malformed.
std::optional<std::int64_t> snooze_request(const nlohmann::json& out, std::string& error) {
    if (!out.is_object() || out.size() != 1 || !out.contains("$snooze")) return std::nullopt;
    const auto& v = out["$snooze"];
    try {
        if (!v.is_string()) throw Error(ErrorCode::bad_input, "must be a duration string such as \"30s\"");
        std::int64_t ms = parse_duration_ms(v.get<std::string>());
        if (ms <= 0) throw Error(ErrorCode::bad_input, "must be positive");
        return ms;
    } catch (const std::exception& e) {
        error = std::string("handler asked to snooze with an invalid $snooze: ") + e.what();
        return std::nullopt;
    }
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
            r.ended_by = "could not start (exit code 127)";
            r.error = p.spawn_error;
        } else if (p.cancelled) {
            r.outcome = HandlerResult::Outcome::cancelled;
        } else if (p.timed_out) {
            r.outcome = HandlerResult::Outcome::timeout;
            r.ended_by = "timeout after " + format_duration_ms(m_options.timeout_ms);
            r.error = "timed out after " + format_duration_ms(m_options.timeout_ms) + (r.error.empty() ? "" : ": " + r.error);
        } else if (p.term_signal) {
            r.outcome = HandlerResult::Outcome::crash;
            r.ended_by = describe_signal(p.term_signal);
            r.error = "killed by " + r.ended_by + (r.error.empty() ? "" : ": " + r.error);
        } else if (p.exit_code != 0) {
            r.outcome = HandlerResult::Outcome::failure;
            if (r.error.empty()) r.error = "exit code " + std::to_string(p.exit_code);
        } else {
            r.outcome = HandlerResult::Outcome::success;
            if (!p.stdout_truncated && !p.stdout_data.empty() && p.stdout_data.find("$snooze") != std::string::npos) {
                auto out = nlohmann::json::parse(p.stdout_data, nullptr, false);
                if (auto snooze = snooze_request(out, r.error)) {
                    r.outcome = HandlerResult::Outcome::snoozed;
                    r.delay_ms = *snooze;
                    return r;
                }
                if (!r.error.empty()) {  // a malformed {"$snooze": ...}
                    r.outcome = HandlerResult::Outcome::failure;
                    r.error_class = "bad_output";
                    return r;
                }
            }
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
        {"WFQ_JOB_ID", "WFQ_JOB_TYPE", "WFQ_QUEUE", "WFQ_ATTEMPT", "WFQ_MAX_ATTEMPTS", "WFQ_SNOOZES", "WFQ_CORRELATION_ID", "WFQ_DB",
         "TRACEPARENT", "TRACESTATE", "WFQ_CONFIG_FILE", "WFQ_STAGE"});
    ProcessSpec spec;
    spec.argv = command;
    spec.base_env = &base;  // the worker's environment, shared by every handler (not copied per job)
    spec.env.reserve(11);
    spec.env.push_back("WFQ_JOB_ID=" + std::to_string(job.id));
    spec.env.push_back("WFQ_JOB_TYPE=" + job.type);
    spec.env.push_back("WFQ_QUEUE=" + job.queue);
    spec.env.push_back("WFQ_ATTEMPT=" + std::to_string(job.attempt));
    spec.env.push_back("WFQ_MAX_ATTEMPTS=" + std::to_string(job.max_attempts));
    spec.env.push_back("WFQ_SNOOZES=" + std::to_string(job.snoozes));
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

bool worker_alive(const WorkerInfo& worker, TimeMs now, std::int64_t dead_after_ms) {
    return now - worker.last_heartbeat < dead_after_ms;
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
    using Slot = engine::Slot;

    Store& store;
    Handler& handler;
    WorkerOptions options;
    Clock& clock;
    Random& random;
    std::string worker_id;

    // Each role on a connection of its own where the backend benefits (PostgreSQL); on SQLite
    // these stay null and every role shares `store` (one writer per process).
    std::unique_ptr<Store> completer_conn, keeper_conn;

    std::mutex mutex;
    // Wake-ups cost more than a no-op job on this kind of machine, so each condition variable
    // has one kind of waiter and is notified only when that waiter is there to be woken.
    std::condition_variable cv;        // closing, all jobs drained, renew now (keeper, shutdown, watchers)
    std::condition_variable slot_cv;   // a slot freed or a claim's reservation returned (the claimer)
    std::condition_variable ready_cv;  // jobs ready for an executor (one wakes, and wakes the next)
    int idle_executors = 0;            // executors waiting on ready_cv
    bool claimer_waiting = false;      // the claimer waits on slot_cv
    std::map<std::int64_t, std::shared_ptr<Slot>> in_flight;  // claimed until the outcome is recorded
    // Under mutex: jobs this worker ran that wait in backoff for a retry (id -> steady ms when
    // due), until it (or anyone) claims them again; for --until-empty's last line and
    // --until-drained.
    std::map<std::int64_t, std::int64_t> retrying;
    std::deque<std::pair<Job, std::shared_ptr<Slot>>> ready;  // claimed, waiting for an executor
    int running = 0;                                          // handlers running now
    int reserved = 0;                                         // slots of claims under way
    bool closing = false;
    std::atomic<bool> renew_now{false};  // an operator cancelled a running job: renew (and stop it) at once
    WorkerStats stats;
    std::unique_ptr<ConfigCache> cache;
    std::unique_ptr<Tracer> own_tracer;  // when options.tracer is null
    Tracer* tracer = nullptr;
    WorkerMetrics metrics;
    std::unique_ptr<engine::OutageMonitor> outage;
    std::unique_ptr<engine::Completer> completer;

    Impl(Store& s, Handler& h, WorkerOptions o, Clock& c, Random& r)
        : store(s), handler(h), options(std::move(o)), clock(c), random(r), worker_id(make_worker_id(r)) {
        if (options.concurrency < 1) throw Error(ErrorCode::usage, "--concurrency must be at least 1");
        if (options.lease_ms < 1000) throw Error(ErrorCode::usage, "--lease must be at least 1s");
        if (options.heartbeat_ms <= 0) options.heartbeat_ms = std::max<std::int64_t>(100, options.lease_ms / 3);
        if (options.max_outage_ms <= 0) throw Error(ErrorCode::usage, "--max-outage must be positive");
        if (options.resolve_config) cache = std::make_unique<ConfigCache>(options.cache, clock);
        tracer = options.tracer;
        if (!tracer) {
            own_tracer = std::make_unique<Tracer>(TracerOptions{}, random);
            tracer = own_tracer.get();
        }
        outage = std::make_unique<engine::OutageMonitor>(clock, options.max_outage_ms, worker_id);
    }

    Store& completer_store() { return completer_conn ? *completer_conn : store; }
    Store& keeper_store() { return keeper_conn ? *keeper_conn : store; }

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
        nlohmann::json j{{"claimed", stats.claimed},   {"completed", stats.completed}, {"retried", stats.retried},
                         {"failed", stats.failed},     {"released", stats.released},   {"lost", stats.lost},
                         {"rescued", stats.rescued},   {"snoozed", stats.snoozed},     {"parked", stats.parked},
                         {"deferred", stats.deferred}};
        if (cache) j["cache"] = nlohmann::json::parse(cache->stats().to_json());
        return j.dump();
    }

    // The completer's report on one outcome: stats, metrics and the log line, then the slot is free.
    void on_recorded(const Outcome& o, OutcomeStatus status, bool unknown) {
        std::shared_ptr<Slot> slot;
        {
            std::lock_guard<std::mutex> lock(mutex);
            auto it = in_flight.find(o.job.id);
            if (it != in_flight.end()) slot = it->second;
        }
        const std::string& name = status == OutcomeStatus::lost ? kLost : slot ? slot->decision : kCompleted;
        // The happy path: the log line only when it is shown (this runs on the completer's thread).
        if (status == OutcomeStatus::recorded && name == kCompleted && !log::enabled(log::Level::info)) {
            finish_slot(o.job.id, name, slot.get());
            return;
        }
        log::Fields fields = slot ? slot->fields : log::Fields{{"job_id", std::to_string(o.job.id)}};
        if (status == OutcomeStatus::lost) {
            log::warn(unknown ? "job finished but its outcome could not be recorded; it will be rescued"
                              : "job finished but its lease was lost; outcome not recorded",
                      fields);
        } else if (status == OutcomeStatus::resumed) {
            log::info("job resumed at once: its signal was already stored", fields);
        } else {
            if (slot && !slot->error_class.empty()) {
                fields.emplace_back("error_class", slot->error_class);
            }
            if (name == "completed") log::info("job completed", fields);
            else if (name == "retried") {
                fields.emplace_back("retry_in", format_duration_ms(o.delay_ms));
                log::warn("job failed; retry scheduled", fields);
                if (options.until_empty) {  // only a run that ends by itself reports them (and forgets them)
                    std::lock_guard<std::mutex> lock(mutex);
                    retrying[o.job.id] = clock.steady_ns() / 1'000'000 + o.delay_ms;
                }
            } else if (name == "failed") {
                log::error(slot && slot->permanent ? "job failed permanently" : "job failed; attempts exhausted", fields);
            } else if (name == "snoozed") {
                fields.emplace_back("snooze", format_duration_ms(o.delay_ms));
                log::info("job snoozed", fields);
            } else if (name == "parked") {
                log::info("job waiting for an event", fields);
            } else if (name == "deferred") {
                log::info("job deferred: " + o.message, fields);
            } else if (name == "released") {
                log::warn("job given back unfinished", fields);
            }
        }
        finish_slot(o.job.id, name, slot.get());
    }
    static inline const std::string kLost = "lost", kCompleted = "completed";

    // An attempt is over (recorded, or nothing to record): its metrics and stats, and its slot is free.
    void finish_slot(std::int64_t job_id, const std::string& name, const Slot* slot) {
        metrics.job_finished(name, slot ? slot->seconds : 0.0);
        if (slot)
            for (double s : slot->stage_seconds) metrics.stage_finished(s);
        bool drained;
        {
            std::lock_guard<std::mutex> lock(mutex);
            count(name);
            in_flight.erase(job_id);
            drained = in_flight.empty();
        }
        if (drained) cv.notify_all();  // shutdown and the keeper wait for the last job
    }

    // Under mutex.
    void count(const std::string& name) {
        if (name == "completed") ++stats.completed;
        else if (name == "retried") ++stats.retried;
        else if (name == "failed") ++stats.failed;
        else if (name == "released") ++stats.released;
        else if (name == "snoozed") ++stats.snoozed;
        else if (name == "parked") ++stats.parked;
        else if (name == "deferred") ++stats.deferred;
        else ++stats.lost;
    }

    void executor_loop(engine::Executor& executor) {
        for (;;) {
            std::pair<Job, std::shared_ptr<Slot>> item;
            {
                std::unique_lock<std::mutex> lock(mutex);
                ++idle_executors;
                ready_cv.wait(lock, [&] { return closing || !ready.empty(); });
                --idle_executors;
                if (ready.empty()) return;
                item = std::move(ready.front());
                ready.pop_front();
                ++running;
                // A claim wakes one executor; each wakes the next while jobs wait, so the
                // thread that claimed (often the completer) pays for one wake-up, not one per job.
                if (!ready.empty() && idle_executors > 0) ready_cv.notify_one();
                // Fewer jobs wait now: the claimer may have a claim to make.
                if (claimer_waiting && claim_room() > 0)
                    slot_cv.notify_one();
            }
            Slot& slot = *item.second;
            const std::int64_t job_id = item.first.id;
            std::optional<Outcome> outcome;
            try {
                if (slot.cancel && slot.shutting_down) {
                    // Stopped before it started: give it back untouched.
                    Outcome o;
                    o.job = slot.ref;
                    o.kind = Outcome::Kind::released;
                    o.message = "worker stopped before the job started";
                    o.handler_ran = false;  // never started: not a release --max-releases counts
                    slot.decision = "released";
                    outcome = std::move(o);
                } else if (!slot.lost) {
                    slot.started = true;
                    log::debug("job started", slot.fields);
                    engine::Attempt a = executor.run(std::move(item.first), slot.ref, slot.claim_start_ns, slot.claim_end_ns,
                                                     slot.cancel, slot.shutting_down);
                    slot.decision = a.decision.name;
                    slot.fields.emplace_back("trace_id", a.trace_id);
                    slot.seconds = a.seconds;
                    slot.stage_seconds = a.result.stage_seconds;
                    slot.error_class = a.decision.error_class;
                    slot.permanent = a.decision.permanent;
                    // What ended a failed attempt: an exit code only when the process exited
                    // with one (not -1 for a timeout, nor 0 for a stream handler's answer).
                    if (a.decision.outcome && (a.decision.outcome->kind == Outcome::Kind::retry ||
                                               a.decision.outcome->kind == Outcome::Kind::failed)) {
                        if (a.decision.outcome->exit_code)
                            slot.fields.emplace_back("exit_code", std::to_string(*a.decision.outcome->exit_code));
                        if (!a.decision.outcome->ended_by.empty())
                            slot.fields.emplace_back("ended_by", a.decision.outcome->ended_by);
                    }
                    outcome = std::move(a.decision.outcome);
                } else {
                    slot.decision = "lost";
                }
            } catch (const std::exception& e) {
                log::error(std::string("running the job failed; it will be rescued: ") + e.what(), slot.fields);
                slot.decision = "lost";
            }
            bool wake_claimer;
            {
                std::lock_guard<std::mutex> lock(mutex);
                --running;
                if (slot.seconds > 0) m_claimer.observe(static_cast<std::int64_t>(slot.seconds * 1e9));
                // Woken only when it would claim now: not once per job while prefetched jobs
                // still wait (a wake-up, and a context switch, per job for nothing).
                wake_claimer = claimer_waiting && claim_room() > 0;
            }
            if (wake_claimer) slot_cv.notify_one();  // an executor is free: the claimer may claim
            if (outcome) {
                slot.finishing = true;
                completer->submit(std::move(*outcome));
            } else {
                // Nothing to record: the lease is gone.
                log::warn("job stopped: its lease was lost (rescued, cancelled or taken over)", slot.fields);
                finish_slot(job_id, "lost", item.second.get());
            }
        }
    }

    // Renews leases and publishes the heartbeat every heartbeat_ms, rescues every
    // rescue_interval_ms, on the keeper's own connection.
    void keeper_loop(std::int64_t start_ns) {
        engine::LeaseKeeper keeper(keeper_store(), *outage, clock, options.lease_ms, worker_id);
        std::int64_t next_beat = 0, next_rescue = options.rescue_interval_ms > 0 ? 0 : INT64_MAX;
        // Retention runs ten times per retention period (at least every minute, at most every
        // second): many small deletes rather than a few large ones, so that the dead rows each
        // vacuum finds stay about the same (a prune every 15 s under --retention 1m deleted
        // 30,000 rows at once, and the dead-row count swung with how prunes and vacuums fell).
        const std::int64_t prune_every = std::clamp<std::int64_t>(options.retention_ms / 10, 1000, 60000);
        std::int64_t next_prune = options.retention_ms > 0 ? 0 : INT64_MAX;  // at start, then every prune_every
        std::int64_t next_schedules = options.schedule_interval_ms > 0 ? 0 : INT64_MAX;
        // Jobs waiting here for a free handler are marked prefetched after a second (a busy
        // worker's jobs wait for milliseconds: no write), checked each second while jobs are held.
        constexpr std::int64_t kPrefetchMarkMs = 1000;
        std::int64_t next_prefetch = INT64_MAX;
        for (;;) {
            std::int64_t now = elapsed_ms(start_ns);
            std::int64_t next = std::min({next_beat, next_rescue, next_prune, next_schedules, next_prefetch});
            std::vector<std::shared_ptr<Slot>> slots;
            {
                std::unique_lock<std::mutex> lock(mutex);
                cv.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(0, next - now)),
                            [&] { return (closing && in_flight.empty()) || renew_now; });
                if (closing && in_flight.empty()) return;
                for (auto& [id, slot] : in_flight) slots.push_back(slot);
            }
            now = elapsed_ms(start_ns);
            if (now >= next_prefetch || next_prefetch == INT64_MAX) {
                next_prefetch = slots.empty() ? INT64_MAX : now + kPrefetchMarkMs;
                if (!slots.empty() && !outage->in_outage()) {
                    try {
                        keeper.mark_prefetched(slots, kPrefetchMarkMs);
                    } catch (const std::exception& e) {
                        log::warn(std::string("could not mark prefetched jobs: ") + e.what(), {{"worker_id", worker_id}});
                    }
                }
            }
            if (renew_now.exchange(false)) next_beat = now;  // a cancelled job's renewal fails: its handler stops
            if (now >= next_schedules) {
                next_schedules = now + options.schedule_interval_ms;
                if (!outage->in_outage()) tick_schedules_logged();
            }
            if (now >= next_beat) {
                next_beat = now + options.heartbeat_ms;
                bool reachable = false;
                try {
                    reachable = keeper.renew(slots);
                } catch (const std::exception& e) {
                    log::warn(std::string("lease renewal failed: ") + e.what(), {{"worker_id", worker_id}});
                }
                if (reachable) {
                    try {
                        keeper_store().heartbeat(worker_id, static_cast<int>(slots.size()), stats_json());
                    } catch (const std::exception& e) {
                        log::warn(std::string("heartbeat failed: ") + e.what(), {{"worker_id", worker_id}});
                    }
                } else {
                    // During an outage the renewal is retried sooner than a heartbeat.
                    next_beat = now + std::min<std::int64_t>(options.heartbeat_ms, 500);
                }
                try {
                    tracer->flush();
                } catch (const std::exception& e) {
                    log::warn(std::string("could not write spans: ") + e.what());
                }
                write_metrics_file();
            }
            if (now >= next_prune) {
                next_prune = now + prune_every;
                if (!outage->in_outage()) {
                    try {
                        prune();
                    } catch (const std::exception& e) {
                        log::warn(std::string("retention prune failed: ") + e.what(), {{"worker_id", worker_id}});
                    }
                }
            }
            if (now >= next_rescue) {
                next_rescue = now + options.rescue_interval_ms;
                if (!outage->in_outage()) {
                    try {
                        rescue();
                    } catch (const std::exception& e) {
                        log::warn(std::string("rescue failed: ") + e.what(), {{"worker_id", worker_id}});
                    }
                }
            }
        }
    }

    // Deletes finished jobs past --retention under the lock "wfq:retention" (one pruner at a time).
    void prune() {
        Store& s = keeper_store();
        auto grant = s.lock_acquire("wfq:retention", worker_id, 600000);
        if (!grant) return;
        std::int64_t n = 0;
        try {
            n = s.prune(options.retention_ms, {JobState::completed, JobState::failed, JobState::cancelled}, 1000, nullptr);
        } catch (...) {
            s.lock_release("wfq:retention", grant->token);
            throw;
        }
        s.lock_release("wfq:retention", grant->token);
        if (n > 0) log::info("pruned finished jobs past --retention", {{"worker_id", worker_id}, {"jobs", std::to_string(n)}});
    }

    // Enqueues the due ticks of periodic schedules (exactly once across workers: see schedule_fire).
    void tick_schedules_logged() {
        try {
            for (const auto& f : tick_schedules(keeper_store()))
                log::info("schedule enqueued its tick", {{"schedule", f.schedule}, {"scheduled_for", format_time(f.scheduled_for)},
                                                          {"job_id", std::to_string(f.job_id)}, {"worker_id", worker_id}});
        } catch (const std::exception& e) {
            log::warn(std::string("schedule tick failed: ") + e.what(), {{"worker_id", worker_id}});
        }
    }

    // Wakes the keeper when an operator cancels a running job, so its handler stops within a
    // moment instead of at the next heartbeat.
    void control_loop() {
        watch_loop(control_waker, "control watcher", 1000, [&] { return store.open_control_waker(); }, [&](Waker& waker) {
            if (waker.wait(kWatchWaitMs)) {
                renew_now = true;
                cv.notify_all();
            }
        });
    }

    void rescue() {
        auto report = rescue_once(keeper_store(), worker_id, options.dead_after_ms);
        if (!report) return;
        metrics.rescued(static_cast<std::int64_t>(report->requeued.size() + report->failed.size()));
        std::lock_guard<std::mutex> lock(mutex);
        stats.rescued += static_cast<std::int64_t>(report->requeued.size() + report->failed.size());
        for (auto id : report->requeued) log::warn("rescued job", {{"job_id", std::to_string(id)}, {"to", "pending"}});
        for (auto id : report->failed) log::warn("rescued job", {{"job_id", std::to_string(id)}, {"to", "failed"}});
    }

    // Applies config invalidations to the cache until the worker closes.
    void config_watch_loop() {
        watch_loop(
            config_watcher, "config watcher", options.config_poll_ms,
            [&] {
                auto watcher = store.open_config_watcher();
                cache->clear();  // changes made while we were not watching are unknown
                return watcher;
            },
            [&](ConfigWatcher& watcher) {
                for (const auto& scope : watcher.poll(kWatchWaitMs)) {
                    cache->invalidate_scope(scope);
                    log::debug("config cache invalidated", {{"scope", scope}, {"worker_id", worker_id}});
                }
            });
    }

    // The control waker's and the config watcher's waits are long: an idle worker wakes for
    // them about once a second, not every 50 ms. Closing interrupts them, so they hold up no
    // shutdown.
    static constexpr std::int64_t kWatchWaitMs = 1000;
    Waker* control_waker = nullptr;            // under mutex: registered for close_watchers
    ConfigWatcher* config_watcher = nullptr;   // under mutex

    // Runs a watcher until the worker closes: opens it (again retry_ms after a failure),
    // registers it in slot before it first waits, and calls step for each wait. A watcher
    // opened once the worker is closing is dropped unused.
    template <typename W, typename Open, typename Step>
    void watch_loop(W*& slot, const char* what, std::int64_t retry_ms, Open open, Step step) {
        std::unique_ptr<W> watcher;
        auto unwatch = [&] {
            {
                std::lock_guard<std::mutex> lock(mutex);
                slot = nullptr;
            }
            watcher.reset();
        };
        for (;;) {
            try {
                if (!watcher) {
                    std::unique_ptr<W> opened = open();
                    std::lock_guard<std::mutex> lock(mutex);
                    if (closing) return;
                    watcher = std::move(opened);
                    slot = watcher.get();
                }
                step(*watcher);
            } catch (const std::exception& e) {
                unwatch();
                log::debug(std::string(what) + " failed: " + e.what(), {{"worker_id", worker_id}});
                std::unique_lock<std::mutex> lock(mutex);
                cv.wait_for(lock, std::chrono::milliseconds(retry_ms), [&] { return closing; });
            }
            {
                std::lock_guard<std::mutex> lock(mutex);
                if (!closing) continue;
            }
            unwatch();
            return;
        }
    }
    // Under mutex, once closing is set.
    void close_watchers() {
        if (control_waker) control_waker->interrupt();
        if (config_watcher) config_watcher->interrupt();
    }

    std::size_t busy() {
        std::lock_guard<std::mutex> lock(mutex);
        return in_flight.size();
    }

    WorkerStats run(const std::atomic<bool>& stop) {
        const std::int64_t start_ns = clock.steady_ns();
        completer_conn = store.open_sibling();
        keeper_conn = store.open_sibling();
        for (Store* s : {&store, completer_conn.get(), keeper_conn.get()})
            if (s) s->set_in_doubt_wait_ms(options.max_outage_ms);
        WorkerInfo info;
        info.id = worker_id;
        info.hostname = host_name();
        info.pid = getpid();
        info.queues = options.queues;
        info.types = options.types;
        store.register_worker(info);
        auto waker = store.open_waker();
        log::info("worker started", {{"worker_id", worker_id}, {"concurrency", std::to_string(options.concurrency)}});

        engine::Completer::Options copts;
        if (completer_conn) copts.nice = 10;  // PostgreSQL: see Completer::Options::nice
        Store& cstore = completer_store();
        // Each flush of outcomes also claims for the free slots in the same transaction: on
        // SQLite that is the one writer per process (one BEGIN IMMEDIATE for both); on
        // PostgreSQL it saves the claimer a round trip and a commit. There the piggybacked claim
        // takes only jobs without a lock key, so it can never fail on the running-lock-key index
        // and take the outcomes down with it; the claimer claims the others.
        const bool shared_connection = !completer_conn;
        engine::Completer::Record record = [this, &cstore, shared_connection](const std::vector<Outcome>& batch) {
            int n = reserve_claim();
            std::vector<Job> claimed;
            const std::int64_t claim_start = unix_now_ns(), claim_steady = clock.steady_ns();
            try {
                ClaimRequest req = claim_request(n);
                req.unkeyed_only = !shared_connection;
                auto status = cstore.record_outcomes_and_claim(batch, req, claimed);
                accept_claimed(claimed, n, claim_start, claim_steady);
                return status;
            } catch (...) {
                accept_claimed({}, n, claim_start, claim_steady);
                throw;
            }
        };
        completer = std::make_unique<engine::Completer>(
            std::move(record),
            [this](const Outcome& o, OutcomeStatus st, bool unknown) { on_recorded(o, st, unknown); }, *outage, copts);
        completer->start();
        engine::Executor executor(handler, *tracer, store, cache.get(), options, clock, random, worker_id);
        std::vector<std::thread> pool;
        for (int i = 0; i < options.concurrency; ++i) pool.emplace_back([this, &executor] {
            name_this_thread("wfq-exec");
            executor_loop(executor);
        });
        std::thread keeper([this, start_ns] {
            name_this_thread("wfq-keeper");
            keeper_loop(start_ns);
        });
        std::thread config_watch;
        if (cache)
            config_watch = std::thread([this] {
                name_this_thread("wfq-config");
                config_watch_loop();
            });
        std::thread control([this] {
            name_this_thread("wfq-control");
            control_loop();
        });

        bool interrupted = false;
        try {
            main_loop(stop, start_ns, *waker, interrupted);
        } catch (...) {
            shutdown(pool, keeper, true);
            if (config_watch.joinable()) config_watch.join();
            control.join();
            throw;
        }
        shutdown(pool, keeper, interrupted || (options.max_time_ms > 0 && elapsed_ms(start_ns) >= options.max_time_ms));
        if (config_watch.joinable()) config_watch.join();
        control.join();
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
        if (options.until_empty && !interrupted) {
            try {
                awaiting_own_retries();  // forget those claimed elsewhere meanwhile
            } catch (const std::exception&) {
            }
        }
        std::lock_guard<std::mutex> lock(mutex);
        stats.interrupted = interrupted;
        stats.retrying_later = static_cast<std::int64_t>(retrying.size());
        if (!retrying.empty()) {
            std::int64_t next = INT64_MAX;
            for (const auto& [id, due] : retrying) next = std::min(next, due);
            stats.next_retry_in_ms = std::max<std::int64_t>(0, next - clock.steady_ns() / 1'000'000);
        }
        if (cache) stats.cache = cache->stats();
        return stats;
    }

    ClaimRequest claim_request(int limit) const {
        return ClaimRequest{worker_id, options.queues, options.types, limit, options.lease_ms};
    }

    // Under mutex: how many jobs the claimer would ask for now (Claimer::limit of the executors
    // busy and the jobs claimed but not started, reserved included).
    int claim_room() const { return m_claimer.limit(running, static_cast<int>(ready.size()) + reserved); }

    // Reserves the free slots for a claim about to be made (0: none free, or --max-jobs reached).
    int reserve_claim() {
        std::lock_guard<std::mutex> lock(mutex);
        if (closing || stopping_claims) return 0;
        int n = claim_room();
        if (options.max_jobs > 0)
            n = static_cast<int>(std::min<std::int64_t>(n, std::max<std::int64_t>(0, options.max_jobs - stats.claimed - reserved)));
        reserved += n;
        return n;
    }

    // Hands claimed jobs to the executors and frees the reservation of n slots.
    void accept_claimed(std::vector<Job> jobs, int n, std::int64_t claim_start, std::int64_t claim_steady) {
        const std::int64_t claim_end = unix_now_ns();
        bool wake_executor = false, wake_claimer = false;
        if (n > 0 || !jobs.empty()) metrics.claim(static_cast<double>(clock.steady_ns() - claim_steady) / 1e9, jobs.size());
        {
            std::lock_guard<std::mutex> lock(mutex);
            reserved -= n;
            for (auto& job : jobs) {
                auto slot = std::make_shared<Slot>();
                slot->ref = JobRef{job.id, worker_id, job.attempt};
                slot->claim_start_ns = claim_start;
                slot->claim_end_ns = claim_end;
                slot->lease_until_ns = claim_steady + options.lease_ms * 1'000'000;
                slot->claimed_steady_ns = claim_steady;
                slot->fields.reserve(7);  // and trace_id, exit_code later: no regrowth
                slot->fields = {{"job_id", std::to_string(job.id)}, {"type", job.type},
                                {"attempt", std::to_string(job.attempt)}, {"correlation_id", job.correlation_id},
                                {"worker_id", worker_id}};
                in_flight[job.id] = slot;
                retrying.erase(job.id);
                ready.emplace_back(std::move(job), slot);
                ++stats.claimed;
            }
            wake_executor = !jobs.empty() && idle_executors > 0;
            // Only when the returned reservation lets it claim: every flush of outcomes comes
            // through here (with its piggybacked claim, often of nothing), and waking the
            // claimer each time cost a wake-up and a context switch per flush, for nothing.
            wake_claimer = claimer_waiting && claim_room() > 0;
        }
        if (wake_executor) ready_cv.notify_one();
        if (wake_claimer) slot_cv.notify_one();
    }

    void fail_if_outage_exceeded() {
        if (outage->exceeded())
            throw Error(ErrorCode::db_unavailable, "the database has been unavailable for longer than --max-outage (" +
                                                       format_duration_ms(options.max_outage_ms) + "); stopping");
    }

    void main_loop(const std::atomic<bool>& stop, std::int64_t start_ns, Waker& waker, bool& interrupted) {
        int failures = 0;
        for (;;) {
            if (stop) {
                interrupted = true;
                return;
            }
            fail_if_outage_exceeded();
            if (options.max_time_ms > 0 && elapsed_ms(start_ns) >= options.max_time_ms) return;
            {
                std::lock_guard<std::mutex> lock(mutex);
                if (options.max_jobs > 0 && stats.claimed >= options.max_jobs) return;
            }
            const std::int64_t claim_start = unix_now_ns(), claim_steady = clock.steady_ns();
            int n = 0;
            try {
                if (claim_in_doubt) {
                    // A claim failed with the session: it may have committed without us hearing.
                    // Jobs running under our id that we do not hold are adopted, not left to rescue.
                    std::vector<Job> adopted;
                    for (auto& job : store.running_jobs_of(worker_id)) {
                        std::lock_guard<std::mutex> lock(mutex);
                        if (!in_flight.count(job.id)) adopted.push_back(std::move(job));
                    }
                    claim_in_doubt = false;
                    outage->ok();
                    if (!adopted.empty())
                        log::info("adopted jobs claimed before the connection was lost",
                                  {{"worker_id", worker_id}, {"jobs", std::to_string(adopted.size())}});
                    accept_claimed(std::move(adopted), 0, claim_start, claim_steady);
                    continue;
                }
                n = reserve_claim();
                if (n == 0) {
                    // Every executor busy (or the claims of a flush under way): wait for a slot.
                    std::unique_lock<std::mutex> lock(mutex);
                    claimer_waiting = true;
                    slot_cv.wait_for(lock, std::chrono::milliseconds(100), [&] {
                        return claim_room() > 0 || stop;
                    });
                    claimer_waiting = false;
                    continue;
                }
                bool full = false;
                std::vector<Job> jobs = m_claimer.claim(n, full);
                outage->ok();
                failures = 0;
                bool got = !jobs.empty();
                accept_claimed(std::move(jobs), n, claim_start, claim_steady);
                n = 0;
                if (full || got) continue;  // a full batch: more may be due; claim again at once
                idle(stop, start_ns, waker);
                if (m_until_empty_done) return;
            } catch (const Error& e) {
                if (n > 0) accept_claimed({}, n, claim_start, claim_steady);
                if (e.code() != ErrorCode::db_unavailable) throw;
                claim_in_doubt = true;
                outage->failed("claimer", e.what());
                fail_if_outage_exceeded();
                std::unique_lock<std::mutex> lock(mutex);
                cv.wait_for(lock, std::chrono::milliseconds(engine::OutageMonitor::pause_ms(++failures)),
                            [&] { return bool(stop); });
            }
        }
    }

    // Nothing to claim: sleep until an enqueue wakes us, a slot frees, the next scheduled job is
    // due, or the poll interval passes, in short slices so that a stop request is seen promptly.
    void idle(const std::atomic<bool>& stop, std::int64_t start_ns, Waker& waker) {
        // Held jobs are counted before next_due reads the table: an outcome is recorded before
        // its job stops counting, so with none held, next_due sees every retry and resumed wait.
        // (Counted after, a job retried in between was missed, and --until-empty stopped with a
        // retry due 100 ms later.)
        const std::size_t held = busy();
        std::int64_t wait_ms = options.poll_ms;
        if (auto due = store.next_due(options.queues, options.types)) {
            std::int64_t until_due = *due - store.db_now();
            if (until_due > 0) {
                wait_ms = std::min(wait_ms, until_due);
            } else if (!m_due_rechecked) {
                // Due but not claimed: it became due after the claim looked (a resumed wait,
                // a retry), or its lock key is busy. Claim once more to tell which.
                m_due_rechecked = true;
                return;
            } else {
                metrics.lock_wait();  // blocked by its lock key: poll
            }
        }
        m_due_rechecked = false;
        // --until-empty: nothing held here, nothing claimable, nothing due within the poll.
        // --until-drained also waits for the retries of jobs this worker ran.
        if (options.until_empty && held == 0 && wait_ms >= options.poll_ms && !awaiting_own_retries()) {
            m_until_empty_done = true;
            return;
        }
        std::int64_t waited = 0;
        std::size_t busy_before = busy();
        bool quiet = true;  // the whole poll passed with nothing to do
        while (waited < wait_ms && !stop) {
            std::int64_t slice = std::min<std::int64_t>(100, wait_ms - waited);
            if (options.max_time_ms > 0)
                slice = std::max<std::int64_t>(1, std::min(slice, options.max_time_ms - elapsed_ms(start_ns)));
            if (waker.wait(slice)) break;
            waited += slice;
            if (busy() != busy_before) {  // a job finished: it may have freed a lock key
                quiet = false;
                break;
            }
            if (options.max_time_ms > 0 && elapsed_ms(start_ns) >= options.max_time_ms) break;
        }
        // Work may follow (a job due, a lock key freed, the worker stopping): the waker need not
        // watch meanwhile. After a quiet poll the next wait follows at once, so it keeps watching.
        if (!quiet || wait_ms < options.poll_ms || stop) waker.rest();
    }
    // --until-drained: whether a job this worker ran still waits for its retry (one read per
    // such job; a job another worker claimed or an operator moved is forgotten).
    bool awaiting_own_retries() {
        std::vector<std::int64_t> ids;
        {
            std::lock_guard<std::mutex> lock(mutex);
            for (const auto& [id, due] : retrying) ids.push_back(id);
        }
        std::vector<std::int64_t> gone;
        for (auto id : ids) {
            auto job = store.get_job(id);
            if (!job || job->state != JobState::pending || job->attempt == 0) gone.push_back(id);
        }
        std::lock_guard<std::mutex> lock(mutex);
        for (auto id : gone) retrying.erase(id);
        return options.until_drained && !retrying.empty();
    }
    bool m_until_empty_done = false;
    bool m_due_rechecked = false;  // idle() found a due job unclaimed and claimed once more
    bool stopping_claims = false;  // under mutex: the main loop has ended, claim no more
    // Built from options (declared above it, so set by then; the constructor's body changes
    // neither concurrency nor prefetch).
    engine::Claimer m_claimer{[this](int n) { return store.claim_batch(claim_request(n)); }, options.concurrency,
                              options.prefetch};
    bool claim_in_doubt = false;

    // stopping (a signal or the time budget): jobs not started go back at once, running ones
    // get the grace period. Otherwise (max jobs, until empty) every claimed job runs to the end.
    // Then the executors end, the completer records what is left, and the keeper stops.
    void shutdown(std::vector<std::thread>& pool, std::thread& keeper, bool stopping) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            stopping_claims = true;
        }
        if (stopping) {
            std::lock_guard<std::mutex> lock(mutex);
            for (auto& [job, slot] : ready) {
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
        } else {
            // Every claimed job runs to the end and its outcome is recorded (or the outage
            // limit passes).
            std::unique_lock<std::mutex> lock(mutex);
            while (!in_flight.empty() && !outage->exceeded()) cv.wait_for(lock, std::chrono::milliseconds(100));
        }
        {
            std::lock_guard<std::mutex> lock(mutex);
            closing = true;
            close_watchers();
        }
        cv.notify_all();
        slot_cv.notify_all();
        ready_cv.notify_all();
        for (auto& t : pool) t.join();
        completer->stop();
        {
            std::lock_guard<std::mutex> lock(mutex);
            in_flight.clear();
        }
        cv.notify_all();
        keeper.join();
    }
};

Worker::Worker(Store& store, Handler& handler, WorkerOptions options, Clock& clock, Random& random)
    : m_impl(std::make_unique<Impl>(store, handler, std::move(options), clock, random)) {}
Worker::~Worker() = default;
const std::string& Worker::id() const { return m_impl->worker_id; }
WorkerStats Worker::run(const std::atomic<bool>& stop) { return m_impl->run(stop); }

}  // namespace wfq
