#include "common.h"

#include <wfq/backoff.h>
#include <wfq/fencing.h>
#include <wfq/host_port.h>
#include <wfq/live_log.h>
#include <wfq/log.h>
#include <wfq/pipeline.h>
#include <wfq/process_runner.h>
#include <wfq/stream_handler.h>
#include <wfq/text.h>
#include <wfq/worker.h>

#include <csignal>

namespace wfq::cli {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
    g_signal = sig;
    g_stop = true;
}

struct ProcessOptions {
    bool exec = false;    // --exec CMD or -- CMD was given (main splits the command off)
    bool stream = false;  // the command is a stream handler
    int procs = 1;
    std::vector<std::string> workflows;
    std::vector<std::string> queues, types;
    int concurrency = 1;
    std::string timeout, lease = "30s", poll = "1s", grace = "10s", max_time;
    std::int64_t max_jobs = 0;
    bool until_empty = false, until_drained = false;
    std::string retry_preset;
    std::optional<int> max_attempts;
    std::vector<int> permanent_exit_codes;
    std::string rescue_interval = "15s";
    std::string max_outage = "5m";
    std::string retention;
    int prefetch = -1;
    int max_snoozes = 100;
    int max_releases = 10;
    std::string metrics_file;
    std::string log_cap = "64KiB";
    std::string metrics_listen;
    std::string statsd, statsd_format = "statsd";
    std::vector<std::string> statsd_tags;
    bool json = false;
};

// --statsd, --statsd-format and --statsd-tag, checked (nullopt without --statsd).
std::optional<StatsdOptions> statsd_options(const ProcessOptions& o) {
    if (o.statsd.empty()) {
        if (!o.statsd_tags.empty()) throw Error(ErrorCode::usage, "--statsd-tag needs --statsd HOST:PORT");
        return std::nullopt;
    }
    StatsdOptions s;
    HostPort address = parse_host_port("--statsd", o.statsd);
    s.host = address.host;
    s.port = address.port;
    if (o.statsd_format != "statsd" && o.statsd_format != "dogstatsd")
        throw Error(ErrorCode::usage, "--statsd-format must be statsd or dogstatsd, not '" + o.statsd_format + "'");
    s.dogstatsd = o.statsd_format == "dogstatsd";
    for (const auto& tag : o.statsd_tags) {
        check_name("--statsd-tag", tag, 200);
        if (tag.find_first_of("|,#") != std::string::npos)
            throw Error(ErrorCode::usage, "--statsd-tag must not contain '|', ',' or '#' (got '" + tag + "')");
        if (!s.dogstatsd) throw Error(ErrorCode::usage, "--statsd-tag needs --statsd-format dogstatsd (StatsD has no tags)");
        s.tags.push_back(tag);
    }
    return s;
}

int run_process(Context& ctx, ProcessOptions& o) {
    if (o.exec == !o.workflows.empty())
        throw Error(ErrorCode::usage, "process needs --exec CMD [ARG...] or -- CMD [ARG...] (last: everything after it is the "
                                      "command) or --workflow FILE");
    if (o.exec && ctx.exec_command.empty()) throw Error(ErrorCode::usage, "--exec needs a command");
    if (o.stream && !o.workflows.empty()) throw Error(ErrorCode::usage, "--stream runs a command (-- CMD), not --workflow");
    if (o.procs < 1) throw Error(ErrorCode::usage, "--procs must be at least 1");
    std::vector<Workflow> workflows;
    for (const auto& path : o.workflows) workflows.push_back(load_workflow(path));
    for (const auto& t : o.types) check_name("--type", t, 200);
    for (const auto& q : o.queues) check_name("--queue", q, 200);
    WorkerOptions w;
    if (!o.queues.empty()) w.queues = o.queues;
    w.types = o.types;
    w.concurrency = o.concurrency;
    w.lease_ms = duration_flag("--lease", o.lease);
    w.poll_ms = std::max<std::int64_t>(1, duration_flag("--poll", o.poll));
    w.grace_ms = duration_flag("--grace", o.grace);
    if (!o.max_time.empty()) w.max_time_ms = duration_flag("--max-time", o.max_time);
    if (o.max_jobs < 0) throw Error(ErrorCode::usage, "--max-jobs must not be negative");
    w.max_jobs = o.max_jobs;
    w.until_empty = o.until_empty || o.until_drained;
    w.until_drained = o.until_drained;
    w.rescue_interval_ms = duration_flag("--rescue-interval", o.rescue_interval);
    w.max_outage_ms = duration_flag("--max-outage", o.max_outage);
    if (!o.retention.empty()) w.retention_ms = duration_flag("--retention", o.retention);
    if (w.max_outage_ms <= 0) throw Error(ErrorCode::usage, "--max-outage must be positive");
    if (o.prefetch < -1) throw Error(ErrorCode::usage, "--prefetch must not be negative");
    w.prefetch = o.prefetch;
    if (o.max_snoozes < 0) throw Error(ErrorCode::usage, "--max-snoozes must not be negative");
    w.max_snoozes = o.max_snoozes;
    if (o.max_releases < 0) throw Error(ErrorCode::usage, "--max-releases must not be negative");
    w.max_releases = o.max_releases;
    if (!o.retry_preset.empty()) {
        auto p = backoff_preset(o.retry_preset);
        if (!p) throw Error(ErrorCode::usage, "unknown --retry-preset '" + o.retry_preset + "'");
        w.policy.backoff = *p;
    }
    if (o.max_attempts) {
        if (*o.max_attempts < 1) throw Error(ErrorCode::usage, "--max-attempts must be at least 1");
        w.policy.max_attempts = o.max_attempts;
    }
    if (!o.permanent_exit_codes.empty())
        w.policy.permanent_exit_codes = std::set<int>(o.permanent_exit_codes.begin(), o.permanent_exit_codes.end());

    w.tracer = &ctx.tracer();
    w.metrics_file = o.metrics_file;
    if (!o.metrics_listen.empty()) w.metrics_listen = parse_host_port("--metrics-listen", o.metrics_listen, true);
    w.statsd = statsd_options(o);

    ExecHandlerOptions h;
    h.command = ctx.exec_command;
    if (!o.timeout.empty()) h.timeout_ms = duration_flag("--timeout", o.timeout);
    h.db_url = ctx.db_url();
    h.log_cap = parse_log_cap("--log-cap", o.log_cap);
    // A handler stopped by self-fencing has ended before its lease expires (<wfq/fencing.h>).
    h.kill_grace_ms = fence_kill_grace_ms(w.lease_ms, h.kill_grace_ms);
    // Running attempts' logs, written while they run (`jobs logs --follow` shows them).
    LiveLogs live_logs;
    if (h.log_cap > 0) h.live_logs = w.live_logs = &live_logs;
    Store& store = ctx.store();
    std::unique_ptr<Handler> handler;
    // Handlers' own children must not outlive a SIGKILLed worker: a watchdog process kills
    // their process groups then. Started before any thread.
    start_handler_watchdog();
    if (o.stream) {
        StreamHandlerOptions so;
        so.command = ctx.exec_command;
        so.procs = o.procs;
        so.timeout_ms = h.timeout_ms;
        so.grace_ms = w.grace_ms;
        // A job that must stop is stopped on the exec handler's timing: by its lease's expiry.
        so.cancel_grace_ms = h.kill_grace_ms;
        so.db_url = h.db_url;
        so.log_cap = h.log_cap;
        so.live_logs = h.live_logs;
        handler = make_stream_handler(so, ctx.clock());
    } else if (workflows.empty()) {
        handler = make_exec_handler(h);
    } else {
        apply_workflows(w, workflows);
        handler = make_pipeline_handler(store, workflows, h, &ctx.tracer(), ctx.clock());
    }

    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    Worker worker(store, *handler, w, ctx.clock(), ctx.random());
    WorkerStats s = worker.run(g_stop);
    if (o.json) std::cout << worker_stats_json(worker.id(), s).dump() << "\n";
    log::Fields fields{{"worker_id", worker.id()}, {"claimed", std::to_string(s.claimed)},
                       {"completed", std::to_string(s.completed)}, {"retried", std::to_string(s.retried)},
                       {"failed", std::to_string(s.failed)}, {"released", std::to_string(s.released)}};
    if (s.retrying_later > 0) {
        // --until-empty stopped, yet jobs it ran will run again: say so, rather than exit as if done.
        fields.emplace_back("retrying_later", std::to_string(s.retrying_later));
        fields.emplace_back("next_retry_in", format_duration_ms(s.next_retry_in_ms));
        log::warn("worker stopped; " + std::to_string(s.retrying_later) + (s.retrying_later == 1 ? " job" : " jobs") + " it ran wait in backoff to retry (the next in " +
                      format_duration_ms(s.next_retry_in_ms) + "); --until-drained waits for them",
                  fields);
    } else {
        log::info("worker stopped", fields);
    }
    if (s.interrupted && g_signal == SIGINT) throw Error(ErrorCode::interrupted);
    return 0;
}

}  // namespace

void add_process_command(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<ProcessOptions>();
    auto* sub = app.add_subcommand("process", "Claim and run jobs with a handler command");
    sub->add_flag("--exec", o->exec,
                  "CMD [ARG...]: the handler, last (same as -- CMD [ARG...]); wfq's own flags after it are refused");
    sub->add_flag("--stream", o->stream, "The command is a stream handler: many jobs per process over NDJSON (wfq-handler(7))");
    sub->add_option("--procs", o->procs, "Stream handler processes (jobs in flight across them: --concurrency)")
        ->capture_default_str();
    sub->add_option("--workflow", o->workflows, "Run the pipelines these workflow files define (repeatable; instead of --exec)");
    sub->add_option("--queue", o->queues, "Queue to serve (repeatable; default: default)");
    sub->add_option("--type", o->types, "Job type to serve (repeatable; default: all)");
    sub->add_option("--concurrency", o->concurrency, "Jobs run at once")->capture_default_str();
    sub->add_option("--timeout", o->timeout, "Per-job time limit (duration); then SIGTERM, SIGKILL");
    sub->add_option("--lease", o->lease, "Lease length, renewed by the heartbeat")->capture_default_str();
    sub->add_option("--max-jobs", o->max_jobs, "Stop after claiming this many jobs");
    sub->add_option("--max-time", o->max_time, "Stop claiming after this long (duration)");
    sub->add_flag("--until-empty", o->until_empty, "Stop when no job is due and none is running");
    sub->add_flag("--until-drained", o->until_drained,
                  "As --until-empty, and also wait for the scheduled retries of jobs this run started");
    sub->add_option("--poll", o->poll, "Poll interval when idle (duration)")->capture_default_str();
    sub->add_option("--grace", o->grace, "On SIGTERM/SIGINT, time for running handlers to finish")->capture_default_str();
    sub->add_option("--retry-preset", o->retry_preset, "Backoff preset for failed jobs (default STANDARD)");
    sub->add_option("--max-attempts", o->max_attempts, "Override the jobs' max attempts");
    sub->add_option("--permanent-exit-codes", o->permanent_exit_codes, "Exit codes that fail a job at once (default 65)")
        ->delimiter(',');
    sub->add_option("--rescue-interval", o->rescue_interval, "How often to rescue abandoned jobs (0 = never)")
        ->capture_default_str();
    sub->add_option("--retention", o->retention, "Delete finished jobs older than this, in batches (default: keep)");
    sub->add_option("--max-outage", o->max_outage, "Ride out a database outage this long, then exit 69")->capture_default_str();
    sub->add_option("--prefetch", o->prefetch, "Jobs claimed beyond the free slots (default: adaptive, as many as the handlers finish in about 5 ms, at least min(concurrency, 16))");
    sub->add_option("--max-snoozes", o->max_snoozes, "Fail a job snoozed this often (error_class snooze_limit)")
        ->capture_default_str();
    sub->add_option("--max-releases", o->max_releases,
                    "Fail a job handed back unfinished this often (worker stopped, --max-time; error_class release_limit)")
        ->capture_default_str();
    sub->add_option("--metrics-file", o->metrics_file, "Write Prometheus metrics here (atomically) every heartbeat and at exit");
    sub->add_option("--metrics-listen", o->metrics_listen,
                    "ADDR:PORT: serve Prometheus metrics at /metrics (the worker's counters and the queue gauges; port 0: any, logged)");
    sub->add_option("--statsd", o->statsd, "HOST:PORT: send a StatsD counter and timing per job outcome and type over UDP");
    sub->add_option("--statsd-format", o->statsd_format, "statsd (type and outcome in the name) or dogstatsd (as tags)")
        ->capture_default_str();
    sub->add_option("--statsd-tag", o->statsd_tags, "KEY:VALUE: a DogStatsD tag on every metric (repeatable)");
    sub->add_option("--log-cap", o->log_cap,
                    "Each attempt's handler stderr kept with the job (wfq jobs logs), newest lines first; 0: none")
        ->capture_default_str();
    sub->add_flag("--json", o->json, "Print a JSON summary at exit");
    on_run(sub, ctx, o, run_process);
}

}  // namespace wfq::cli
