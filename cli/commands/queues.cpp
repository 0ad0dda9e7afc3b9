// `wfq queues list|pause|resume`.
#include "common.h"

#include <wfq/bulk.h>
#include <wfq/text.h>

namespace wfq::cli {
namespace {

struct ListOptions {
    bool json = false;
};

struct QueueOptions {
    std::string queue;
    bool json = false;
    bool strict = false;
};

int run_list(Context& ctx, ListOptions& o) {
    auto queues = ctx.store().queue_summaries();
    if (o.json) {
        json out = json::array();
        for (const auto& q : queues) out.push_back(queue_summary_json(q));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& q : queues)
        rows.push_back({q.queue, count_text(q.pending, q.pending_estimated), count_text(q.scheduled, q.pending_estimated),
                        std::to_string(q.running), std::to_string(q.waiting), count_text(q.failed, q.failed_estimated),
                        std::to_string(q.completed_last_hour),
                        q.oldest_pending_age_ms ? format_duration_ms(*q.oldest_pending_age_ms) : "-", q.paused ? "paused" : ""});
    print_table({"QUEUE", "PENDING", "SCHEDULED", "RUNNING", "WAITING", "FAILED", "DONE/1H", "OLDEST", "STATUS"}, rows);
    return 0;
}

int set_paused(Context& ctx, QueueOptions& o, bool paused) {
    check_name("queue", o.queue, 200);
    check_queues(ctx.store(), {o.queue}, o.strict);
    bool changed = ctx.store().set_queue_paused(o.queue, paused, operator_name());
    if (o.json) {
        std::cout << json{{"queue", o.queue}, {"paused", paused}, {"changed", changed}}.dump() << "\n";
        return 0;
    }
    std::cerr << "queue " << o.queue << (changed ? (paused ? " paused" : " resumed") : (paused ? " was already paused" : " was not paused"))
              << "\n";
    return 0;
}

int run_pause(Context& ctx, QueueOptions& o) { return set_paused(ctx, o, true); }
int run_resume(Context& ctx, QueueOptions& o) { return set_paused(ctx, o, false); }

}  // namespace

void check_queues(Store& store, const std::vector<std::string>& queues, bool strict) {
    for (const auto& q : unknown_queues(store, queues)) {
        std::string what = "queue '" + q + "' is unknown: no job, pause or live worker names it";
        if (strict) throw Error(ErrorCode::not_found, what + " (--strict)");
        std::cerr << "wfq: warning: " << what << "\n";
    }
}

void add_queues_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("queues", "List queues; pause and resume them");
    group->require_subcommand(1);

    auto l = std::make_shared<ListOptions>();
    auto* list = group->add_subcommand(
        "list", "Per queue: pending, scheduled, running, waiting, failed, completed in the last hour, oldest due age, paused");
    list->add_flag("--json", l->json, "Print a JSON array");
    on_run(list, ctx, l, run_list);

    auto p = std::make_shared<QueueOptions>();
    auto* pause = group->add_subcommand("pause", "Stop every worker claiming from a queue (running jobs finish; enqueue still works)");
    pause->add_option("queue", p->queue, "Queue name")->required();
    pause->add_flag("--json", p->json, "Print JSON");
    pause->add_flag("--strict", p->strict, "An unknown queue is an error (exit 4), not a warning");
    on_run(pause, ctx, p, run_pause);

    auto r = std::make_shared<QueueOptions>();
    auto* resume = group->add_subcommand("resume", "Let workers claim from a paused queue again (idle workers wake at once)");
    resume->add_option("queue", r->queue, "Queue name")->required();
    resume->add_flag("--json", r->json, "Print JSON");
    resume->add_flag("--strict", r->strict, "An unknown queue is an error (exit 4), not a warning");
    on_run(resume, ctx, r, run_resume);
}

}  // namespace wfq::cli
