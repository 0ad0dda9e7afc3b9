#include "common.h"

#include <wfq/diagnose.h>
#include <wfq/metrics.h>
#include <wfq/trace.h>

#include <map>

namespace wfq::cli {
namespace {

struct IdCmd {
    std::int64_t id = 0;
    bool json = false;
};

int run_trace_show(Context& ctx, IdCmd& o) {
    Store& store = ctx.store();
    if (!store.get_job(o.id)) throw Error(ErrorCode::not_found, "job " + std::to_string(o.id) + " not found");
    std::vector<SpanRecord> spans;
    for (const auto& text : store.job_spans(o.id)) spans.push_back(SpanRecord::from_otlp_json(text));
    std::sort(spans.begin(), spans.end(), [](const SpanRecord& a, const SpanRecord& b) { return a.start_ns < b.start_ns; });
    if (o.json) {
        json out = json::array();
        for (const auto& s : spans) out.push_back(json::parse(s.to_otlp_json()));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::map<std::string, std::vector<const SpanRecord*>> children;
    std::set<std::string> ids;
    for (const auto& s : spans) ids.insert(s.span_id);
    std::vector<const SpanRecord*> roots;
    for (const auto& s : spans) {
        if (s.parent_span_id.empty() || !ids.count(s.parent_span_id)) roots.push_back(&s);
        else children[s.parent_span_id].push_back(&s);
    }
    std::vector<std::vector<std::string>> rows;
    std::function<void(const SpanRecord*, int)> walk = [&](const SpanRecord* s, int depth) {
        std::string attempt;
        for (const auto& [k, v] : s->int_attributes)
            if (k == "wfq.job.attempt") attempt = std::to_string(v);
        rows.push_back({std::string(static_cast<std::size_t>(depth) * 2, ' ') + s->name, attempt,
                        format_duration_ms((s->end_ns - s->start_ns) / 1'000'000) + " (" +
                            std::to_string((s->end_ns - s->start_ns) / 1000) + "us)",
                        format_time(s->start_ns / 1'000'000), s->error ? colour_state("failed") + " " + s->status_message : "ok"});
        for (const auto* c : children[s->span_id]) walk(c, depth + 1);
    };
    for (const auto* r : roots) walk(r, 0);
    if (!spans.empty()) std::cout << "trace " << spans.front().trace_id << "\n";
    print_table({"SPAN", "ATTEMPT", "DURATION", "START", "STATUS"}, rows);
    return 0;
}

struct MetricsCmd {
    std::string dead_after = "60s";
};

int run_metrics(Context& ctx, MetricsCmd& o) {
    std::cout << render_queue_metrics(ctx.store().queue_metrics(duration_flag("--dead-after", o.dead_after)));
    std::cout << render_limit_metrics(ctx.store().limit_usage());
    return 0;
}

struct DoctorCmd {
    bool json = false;
    std::string dead_after = "60s";
    std::string slow_after = "30m";
    std::int64_t slow_after_ms = 0;
};

// Findings on stdout (text or --json) whatever happens, so that a monitoring script always gets
// them: a database that cannot be reached or refuses the settings is a finding too. Exit codes:
// see doctor_exit_code (69 unreachable, 78 configuration, 1 another error, 0 healthy).
int run_doctor_cmd(Context& ctx, DoctorCmd& o) {
    const std::int64_t dead_after_ms = duration_flag("--dead-after", o.dead_after);
    o.slow_after_ms = duration_flag("--slow-after", o.slow_after);
    std::vector<Finding> findings;
    try {
        findings = run_doctor(ctx.store(), dead_after_ms, o.slow_after_ms);
    } catch (const Error& e) {  // opening the store failed
        const std::string target = redact_dsn(ctx.db_url());
        if (e.code() == ErrorCode::db_unavailable) findings.push_back(unreachable_finding(target, e.what()));
        else if (e.code() == ErrorCode::config) findings.push_back(configuration_finding(target, e.what()));
        else throw;
    }
    json out = json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : findings) {
        out.push_back(finding_json(f));
        std::string sev = f.severity;
        if (use_colour() && f.severity != "ok") sev = (f.severity == "error" ? "\x1b[31m" : "\x1b[33m") + sev + "\x1b[0m";
        rows.push_back({f.check, sev, f.message, f.fix});
    }
    if (o.json) std::cout << out.dump() << "\n";
    else print_table({"CHECK", "SEVERITY", "FINDING", "FIX"}, rows);
    return doctor_exit_code(findings);
}

int run_why(Context& ctx, IdCmd& o) {
    WhyAnswer a = explain_job(ctx.store(), o.id);
    if (o.json) std::cout << json{{"id", o.id}, {"reason", a.reason}, {"explanation", a.explanation}}.dump() << "\n";
    else std::cout << a.explanation << "\n";
    return 0;
}

}  // namespace

void add_observe_commands(CLI::App& app, Context& ctx) {
    auto* trace = app.add_subcommand("trace", "Job traces");
    trace->require_subcommand(1);
    auto t = std::make_shared<IdCmd>();
    auto* show = trace->add_subcommand("show", "Print a job's span tree with durations and errors");
    show->add_option("id", t->id, "Job id")->required();
    show->add_flag("--json", t->json, "Print the spans as OTLP JSON objects");
    on_run(show, ctx, t, run_trace_show);

    auto m = std::make_shared<MetricsCmd>();
    auto* metrics = app.add_subcommand("metrics", "Print the queue's metrics in Prometheus text format");
    metrics->add_option("--dead-after", m->dead_after, "A worker silent this long is dead")->capture_default_str();
    on_run(metrics, ctx, m, run_metrics);

    auto d = std::make_shared<DoctorCmd>();
    auto* doctor = app.add_subcommand("doctor", "Check the queue's health; exit 1 when a finding is an error");
    doctor->footer(
        "Each check prints one finding: check, severity (ok, warning, error), message and fix (`--json`:\n"
        "an array of objects with those fields). The findings are printed whatever happens, so a\n"
        "monitoring script always gets them: a database that cannot be reached gives the finding\n"
        "`unreachable`, one that refuses the settings (authentication failed, no such database or role,\n"
        "an SQLite path that cannot be written, the schema missing or old) the finding `configuration`,\n"
        "both of severity error.\n"
        "\n"
        "A handler that hangs on a live worker keeps renewing its lease, so only its running time shows\n"
        "it: the finding `slow_job` (severity error) lists the running jobs whose handler has run longer\n"
        "than --slow-after (default 30m; 0 turns the check off). Jobs claimed ahead and still waiting in\n"
        "their worker for a free handler (prefetched) are never counted.\n"
        "\n"
        "Exit status: 0 when no finding is an error; 1 when one is; 69 with an `unreachable` finding and\n"
        "78 with a `configuration` one, the codes every wfq command uses for these, so that a script\n"
        "tells \"the queue is unhealthy\" (1) from \"the check could not run\" (69: the database is down or\n"
        "out of reach, perhaps for a while; 78: a setting must be fixed). A server that is down is tried\n"
        "WFQ_DB_RETRIES times (default 5) before `unreachable`; a refused connection is not retried.\n"
        "\n"
        "    wfq doctor --json | jq -r '.[] | select(.severity == \"error\") | .check'");
    doctor->add_option("--dead-after", d->dead_after, "A worker silent this long is dead")->capture_default_str();
    doctor->add_option("--slow-after", d->slow_after, "Report running jobs whose handler has run longer than this (slow_job; 0: off)")
        ->capture_default_str();
    doctor->add_flag("--json", d->json, "Print JSON");
    on_run(doctor, ctx, d, run_doctor_cmd);

    auto w = std::make_shared<IdCmd>();
    auto* why = app.add_subcommand("why", "Explain why a job is not running now");
    why->add_option("id", w->id, "Job id")->required();
    why->add_flag("--json", w->json, "Print JSON with a machine-readable reason code");
    on_run(why, ctx, w, run_why);
}

}  // namespace wfq::cli
