#include "common.h"

#include <wfq/process_runner.h>
#include <wfq/worker.h>

#include <unistd.h>

namespace wfq::cli {
namespace {

struct WorkersOptions {
    bool json = false;
    std::string dead_after = "60s";
};

int run_workers(Context& ctx, WorkersOptions& o) {
    std::int64_t dead_after = duration_flag("--dead-after", o.dead_after);
    Store& store = ctx.store();
    auto workers = store.list_workers();
    TimeMs now = store.db_now();
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
        return s.empty() ? std::string("*") : s;
    };
    if (o.json) {
        json out = json::array();
        for (const auto& w : workers) out.push_back(worker_json(w, now, dead_after));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& w : workers)
        rows.push_back({w.id, w.hostname, std::to_string(w.pid), join(w.queues), join(w.types), std::to_string(w.running),
                        format_duration_ms(now - w.last_heartbeat) + " ago",
                        worker_alive(w, now, dead_after) ? "alive" : "dead"});
    print_table({"ID", "HOST", "PID", "QUEUES", "TYPES", "RUNNING", "HEARTBEAT", "STATUS"}, rows);
    return 0;
}

struct RescueOptions {
    std::string dead_after = "60s";
    bool json = false;
};

int run_rescue(Context& ctx, RescueOptions& o) {
    std::int64_t dead_after = duration_flag("--dead-after", o.dead_after);
    auto report = rescue_once(ctx.store(), host_name() + "-" + std::to_string(getpid()) + "-rescue", dead_after);
    if (!report) throw Error(ErrorCode::lock_conflict, "another rescuer is running (lock wfq:rescuer is held)");
    if (o.json) {
        std::cout << json{{"requeued", report->requeued}, {"failed", report->failed}}.dump() << "\n";
        return 0;
    }
    for (auto id : report->requeued) std::cout << id << " pending\n";
    for (auto id : report->failed) std::cout << id << " failed\n";
    std::cerr << "rescued " << count_of(static_cast<std::int64_t>(report->requeued.size() + report->failed.size()), "job") << " ("
              << report->requeued.size() << " back to pending, " << report->failed.size() << " failed: attempts exhausted)\n";
    return 0;
}

}  // namespace

void add_workers_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("workers", "Inspect workers");
    group->require_subcommand(1);
    auto o = std::make_shared<WorkersOptions>();
    auto* list = group->add_subcommand("list", "List registered workers and their heartbeats");
    list->add_option("--dead-after", o->dead_after, "A worker silent this long is dead")->capture_default_str();
    list->add_flag("--json", o->json, "Print a JSON array");
    on_run(list, ctx, o, run_workers);
}

void add_rescue_command(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<RescueOptions>();
    auto* sub = app.add_subcommand("rescue", "Return jobs with expired leases or dead workers to pending (or failed)");
    sub->add_option("--dead-after", o->dead_after, "A worker silent this long is dead")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON");
    on_run(sub, ctx, o, run_rescue);
}

}  // namespace wfq::cli
