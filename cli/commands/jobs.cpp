#include "common.h"

#include <wfq/queue.h>
#include <wfq/text.h>

namespace wfq::cli {
namespace {

struct ListOptions {
    std::vector<std::string> states, types, queues;
    bool stuck = false;
    int limit = 100;
    bool json = false;
};

struct ShowOptions {
    std::int64_t id = 0;
    bool json = false;
};

struct IdsOptions {
    std::vector<std::int64_t> ids;
    bool json = false;
};

struct PruneOptions {
    std::string older_than;
    std::vector<std::string> states;
    int batch_size = 1000;
    bool json = false;
};

std::vector<JobState> parse_states(const std::vector<std::string>& names, JobFilter* filter) {
    std::vector<JobState> out;
    for (const auto& n : names) {
        if (filter && n == "scheduled") filter->scheduled_only = true;
        else if (filter && n == "retrying") filter->retrying_only = true;
        else if (auto s = parse_job_state(n)) out.push_back(*s);
        else
            throw Error(ErrorCode::usage, "unknown state '" + n +
                                              "' (pending, running, waiting, completed, failed, cancelled" +
                                              (filter ? ", scheduled, retrying)" : ")"));
    }
    return out;
}

std::string short_error(const std::optional<std::string>& e) {
    if (!e) return "";
    std::string s = *e;
    auto nl = s.find_last_not_of("\n ");
    if (nl != std::string::npos) s = s.substr(0, nl + 1);
    auto last = s.rfind('\n');
    if (last != std::string::npos) s = s.substr(last + 1);
    return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

int run_list(Context& ctx, ListOptions& o) {
    JobFilter f;
    f.states = parse_states(o.states, &f);
    for (const auto& t : o.types) check_name("--type", t, 200);
    for (const auto& q : o.queues) check_name("--queue", q, 200);
    f.types = o.types;
    f.queues = o.queues;
    f.stuck = o.stuck;
    if (o.limit < 1) throw Error(ErrorCode::usage, "--limit must be at least 1");
    f.limit = o.limit;
    Store& store = ctx.store();
    auto jobs = store.list_jobs(f);
    TimeMs now = store.db_now();
    if (o.json) {
        std::string out = "[";
        for (std::size_t i = 0; i < jobs.size(); ++i) out += (i ? "," : "") + job_to_json(jobs[i], now);
        std::cout << out << "]\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& j : jobs) {
        std::string state = display_state(j.state, j.run_at, j.attempt, now);
        std::string note;
        if (j.state == JobState::waiting && j.wait_event) note = "waits for " + *j.wait_event + (j.wait_key ? " key " + *j.wait_key : "");
        else if (j.state == JobState::pending && j.run_at > now) note = "runs in " + format_duration_ms(j.run_at - now);
        else if (j.state == JobState::running && j.lease_owner) note = "on " + *j.lease_owner;
        if (j.last_error && j.state != JobState::completed) note += (note.empty() ? "" : "; ") + short_error(j.last_error);
        rows.push_back({std::to_string(j.id), j.type, j.queue, colour_state(state),
                        std::to_string(j.attempt) + "/" + std::to_string(j.max_attempts), std::to_string(j.priority),
                        format_time(j.created_at).substr(0, 19), note});
    }
    print_table({"ID", "TYPE", "QUEUE", "STATE", "ATTEMPT", "PRIO", "CREATED", "NOTE"}, rows);
    return 0;
}

int run_show(Context& ctx, ShowOptions& o) {
    Store& store = ctx.store();
    auto job = store.get_job(o.id);
    if (!job) throw Error(ErrorCode::not_found, "job " + std::to_string(o.id) + " not found");
    auto events = store.job_events(o.id);
    TimeMs now = store.db_now();
    if (o.json) {
        json j = json::parse(job_to_json(*job, now));
        json ev = json::array();
        for (const auto& e : events) {
            json x{{"at", format_time(e.at)}, {"kind", e.kind}, {"state", e.state}, {"attempt", e.attempt},
                   {"worker", opt_json(e.worker)}, {"message", opt_json(e.message)}};
            x["data"] = e.data ? json::parse(*e.data, nullptr, false) : json(nullptr);
            ev.push_back(x);
        }
        j["events"] = ev;
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    json j = json::parse(job_to_json(*job, now));
    std::vector<std::vector<std::string>> rows;
    for (auto it = j.begin(); it != j.end(); ++it) {
        std::string v = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
        if (it.key() == "state") v = colour_state(v);
        rows.push_back({it.key(), v});
    }
    print_table({"FIELD", "VALUE"}, rows);
    std::cout << "\ntimeline:\n";
    std::vector<std::vector<std::string>> tl;
    for (const auto& e : events)
        tl.push_back({format_time(e.at), e.kind, colour_state(e.state), std::to_string(e.attempt), e.worker.value_or(""),
                      short_error(e.message)});
    print_table({"AT", "EVENT", "STATE", "ATTEMPT", "WORKER", "MESSAGE"}, tl);
    return 0;
}

int run_admin(Context& ctx, IdsOptions& o, bool retry) {
    Store& store = ctx.store();
    int exit = 0;
    json out = json::array();
    for (auto id : o.ids) {
        AdminResult r = retry ? store.retry_job(id) : store.cancel_job(id);
        const char* result = r == AdminResult::done ? (retry ? "retried" : "cancelled")
                             : r == AdminResult::not_found ? "not_found" : "wrong_state";
        out.push_back({{"id", id}, {"result", result}});
        if (r == AdminResult::not_found) {
            std::cerr << "wfq: job " << id << " not found\n";
            exit = std::max(exit, 4);
        } else if (r == AdminResult::wrong_state) {
            auto job = store.get_job(id);
            std::cerr << "wfq: job " << id << " is " << (job ? to_string(job->state) : "gone") << "; "
                      << (retry ? "cannot retry a running job (or its key is taken by another active job)"
                                : "only pending, waiting or running jobs can be cancelled")
                      << "\n";
            exit = std::max(exit, 1);
        } else if (!o.json) {
            std::cout << id << " " << result << "\n";
        }
    }
    if (o.json) std::cout << out.dump() << "\n";
    return exit == 4 && o.ids.size() > 1 ? 1 : exit;
}

int run_retry(Context& ctx, IdsOptions& o) { return run_admin(ctx, o, true); }
int run_cancel(Context& ctx, IdsOptions& o) { return run_admin(ctx, o, false); }

int run_prune(Context& ctx, PruneOptions& o) {
    std::int64_t older = duration_flag("--older-than", o.older_than);
    std::vector<JobState> states = parse_states(o.states, nullptr);
    if (states.empty()) states = {JobState::completed, JobState::failed, JobState::cancelled};
    for (auto s : states)
        if (s == JobState::pending || s == JobState::running || s == JobState::waiting)
            throw Error(ErrorCode::usage, std::string("prune deletes finished jobs only; '") + to_string(s) + "' is not finished");
    if (o.batch_size < 1) throw Error(ErrorCode::usage, "--batch-size must be at least 1");
    Progress progress("pruned", !o.json);
    std::int64_t n = ctx.store().prune(older, states, o.batch_size, [&](std::int64_t done) { progress.update(done); });
    if (o.json) std::cout << json{{"deleted", n}}.dump() << "\n";
    else std::cerr << "deleted " << n << " jobs\n";
    return 0;
}

}  // namespace

void add_jobs_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("jobs", "Inspect and manage jobs");
    group->require_subcommand(1);

    auto l = std::make_shared<ListOptions>();
    auto* list = group->add_subcommand("list", "List jobs, newest last");
    list->add_option("--state", l->states, "pending, running, waiting, completed, failed, cancelled, scheduled, retrying (repeatable)");
    list->add_option("--type", l->types, "Only this type (repeatable)");
    list->add_option("--queue", l->queues, "Only this queue (repeatable)");
    list->add_flag("--stuck", l->stuck, "Running jobs whose lease expired or whose worker is dead");
    list->add_option("--limit", l->limit, "At most this many (the newest)")->capture_default_str();
    list->add_flag("--json", l->json, "Print a JSON array");
    on_run(list, ctx, l, run_list);

    auto s = std::make_shared<ShowOptions>();
    auto* show = group->add_subcommand("show", "Show all fields of a job and its timeline");
    show->add_option("id", s->id, "Job id")->required();
    show->add_flag("--json", s->json, "Print JSON");
    on_run(show, ctx, s, run_show);

    auto r = std::make_shared<IdsOptions>();
    auto* retry = group->add_subcommand("retry", "Requeue jobs now with a fresh set of attempts");
    retry->add_option("ids", r->ids, "Job ids")->required();
    retry->add_flag("--json", r->json, "Print JSON");
    on_run(retry, ctx, r, run_retry);

    auto c = std::make_shared<IdsOptions>();
    auto* cancel = group->add_subcommand("cancel", "Cancel pending, waiting or running jobs");
    cancel->add_option("ids", c->ids, "Job ids")->required();
    cancel->add_flag("--json", c->json, "Print JSON");
    on_run(cancel, ctx, c, run_cancel);

    auto p = std::make_shared<PruneOptions>();
    auto* prune = group->add_subcommand("prune", "Delete finished jobs older than a duration, in batches");
    prune->add_option("--older-than", p->older_than, "Age since the job finished (duration)")->required();
    prune->add_option("--state", p->states, "completed, failed, cancelled (repeatable; default all three)");
    prune->add_option("--batch-size", p->batch_size, "Rows per delete transaction")->capture_default_str();
    prune->add_flag("--json", p->json, "Print JSON");
    on_run(prune, ctx, p, run_prune);
}

}  // namespace wfq::cli
