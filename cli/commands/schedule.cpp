// `wfq schedule add|list|remove|pause|resume|tick`: periodic jobs (wfq/schedule.h).
#include "common.h"
#include "new_job_flags.h"

#include <wfq/schedule.h>

namespace wfq::cli {
namespace {

struct AddOptions {
    std::string name, cron, tz = "UTC", type, payload;
    NewJobFlags job;
    bool json = false;
};

struct NameOptions {
    std::string name;
};

struct ListOptions {
    bool json = false;
};

int run_add(Context& ctx, AddOptions& o) {
    Schedule s;
    s.name = o.name;
    s.cron = o.cron;
    s.tz = o.tz;
    s.type = o.type;
    apply_new_job_flags(o.job, s);
    if (o.payload == "-") s.payload = read_input("-");
    else if (!o.payload.empty()) s.payload = o.payload;
    CronSchedule check(s.cron, s.tz);  // a bad expression or zone is a usage error before the database opens
    Schedule stored = add_schedule(ctx.store(), s);
    if (o.json) std::cout << schedule_json(stored).dump() << "\n";
    else std::cerr << "schedule " << stored.name << " added; next run " << format_time(stored.next_run.value_or(0)) << "\n";
    return 0;
}

int run_list(Context& ctx, ListOptions& o) {
    auto all = ctx.store().schedules();
    if (o.json) {
        json out = json::array();
        for (const auto& s : all) out.push_back(schedule_json(s));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : all)
        rows.push_back({s.name, s.cron, s.tz, s.type, s.queue, s.paused ? "paused" : "active",
                        s.next_run && !s.paused ? format_time(*s.next_run).substr(0, 19) : "-",
                        s.last_run ? format_time(*s.last_run).substr(0, 19) : "-",
                        s.last_job_id ? std::to_string(*s.last_job_id) : "-"});
    print_table({"NAME", "CRON", "TZ", "TYPE", "QUEUE", "STATUS", "NEXT RUN", "LAST RUN", "LAST JOB"}, rows);
    return 0;
}

int run_remove(Context& ctx, NameOptions& o) {
    remove_schedule(ctx.store(), o.name);
    std::cerr << "schedule " << o.name << " removed\n";
    return 0;
}

int run_pause(Context& ctx, NameOptions& o) {
    pause_schedule(ctx.store(), o.name, true);
    std::cerr << "schedule " << o.name << " paused\n";
    return 0;
}

int run_resume(Context& ctx, NameOptions& o) {
    pause_schedule(ctx.store(), o.name, false);
    std::cerr << "schedule " << o.name << " resumed (missed ticks are skipped)\n";
    return 0;
}

int run_tick(Context& ctx, ListOptions& o) {
    auto fired = tick_schedules(ctx.store());
    if (o.json) {
        json out = json::array();
        for (const auto& f : fired) out.push_back(tick_fired_json(f));
        std::cout << out.dump() << "\n";
        return 0;
    }
    for (const auto& f : fired) std::cout << f.job_id << " " << f.schedule << " " << format_time(f.scheduled_for) << "\n";
    std::cerr << "enqueued " << fired.size() << " scheduled jobs\n";
    return 0;
}

}  // namespace

void add_schedule_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("schedule", "Periodic jobs: cron schedules that running workers enqueue, once per tick");
    group->require_subcommand(1);

    auto a = std::make_shared<AddOptions>();
    auto* add = group->add_subcommand("add", "Add (or replace) a schedule: NAME --cron EXPR [--tz ZONE] TYPE [PAYLOAD]");
    add->add_option("name", a->name, "Schedule name")->required();
    add->add_option("type", a->type, "Job type")->required();
    add->add_option("payload", a->payload, "JSON object (default {}); '-' reads stdin");
    add->add_option("--cron", a->cron,
                    "Five fields (minute hour day-of-month month day-of-week; ranges, steps, lists, names) or "
                    "@hourly, @daily, @weekly, @monthly, @yearly")
        ->required();
    add->add_option("--tz", a->tz, "IANA time zone the expression is read in, e.g. Europe/Lisbon")->capture_default_str();
    add_new_job_flags(add, a->job);
    add->add_flag("--json", a->json, "Print the schedule as JSON");
    on_run(add, ctx, a, run_add);

    auto l = std::make_shared<ListOptions>();
    auto* list = group->add_subcommand("list", "List schedules with their next and last runs");
    list->add_flag("--json", l->json, "Print a JSON array");
    on_run(list, ctx, l, run_list);

    // remove, pause and resume take one schedule name and nothing else.
    auto add_by_name = [&](const char* name, const char* help, int (*run)(Context&, NameOptions&)) {
        auto o = std::make_shared<NameOptions>();
        auto* sub = group->add_subcommand(name, help);
        sub->add_option("name", o->name, "Schedule name")->required();
        on_run(sub, ctx, o, run);
    };
    add_by_name("remove", "Remove a schedule (its jobs stay)", run_remove);
    add_by_name("pause", "Stop enqueueing a schedule's ticks", run_pause);
    add_by_name("resume", "Enqueue a paused schedule's ticks again, from the next one", run_resume);

    auto t = std::make_shared<ListOptions>();
    auto* tick = group->add_subcommand("tick", "Enqueue due ticks now (one pass; workers do this every second)");
    tick->add_flag("--json", t->json, "Print a JSON array of the jobs enqueued");
    on_run(tick, ctx, t, run_tick);
}

}  // namespace wfq::cli
