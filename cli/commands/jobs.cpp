#include "common.h"

#include <wfq/bulk.h>
#include <wfq/queue.h>
#include <wfq/text.h>

#include <unistd.h>

namespace wfq::cli {
namespace {

struct ListOptions {
    std::vector<std::string> states;
    ScopeRequest scope;
    bool stuck = false;
    std::int64_t before = 0;
    int limit = 100;
    bool json = false;
    bool strict = false;
};

struct ShowOptions {
    std::int64_t id = 0;
    bool json = false;
};

// retry, cancel and prune: ids and/or filters (see wfq/bulk.h).
struct BulkOptions {
    BulkRequest request;
    bool yes = false;
    bool json = false;
    bool strict = false;
};

// The NOTE of a running job: where, and for how long (or that it waits for a free handler).
std::string running_note(const Job& j, TimeMs now) {
    std::string where = j.lease_owner ? " on " + *j.lease_owner : "";
    if (j.prefetched) return "prefetched" + where + ", waiting for a free handler";
    if (auto ms = running_ms(j, now)) return "running " + format_duration_ms(*ms) + where;
    return where.empty() ? "" : where.substr(1);
}

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

// Pages of the newest matching jobs, oldest first within the output: --limit N prints the newest
// N (and says on stderr when more match), --limit 0 prints every match, a page at a time.
int run_list(Context& ctx, ListOptions& o) {
    JobFilter f;
    f.states = parse_states(o.states, &f);
    f.scope = make_scope(o.scope);
    f.stuck = o.stuck;
    if (o.limit < 0) throw Error(ErrorCode::usage, "--limit must be 0 (all) or more");
    if (o.before < 0) throw Error(ErrorCode::usage, "--before must be a job id");
    if (o.before > 0) f.before_id = o.before;
    Store& store = ctx.store();
    check_queues(store, o.scope.queues, o.strict);
    TimeMs now = store.db_now();
    std::vector<Job> jobs;
    bool more = false;
    if (o.limit > 0) {
        f.limit = o.limit + 1;  // one more tells whether the output is cut
        jobs = store.list_jobs(f);
        if (static_cast<int>(jobs.size()) > o.limit) {
            more = true;
            jobs.erase(jobs.begin());  // the oldest of them: the newest --limit are printed
        }
    }
    if (more)
        std::cerr << "wfq: showing the newest " << o.limit << " matching jobs; more match (--limit 0 for all, or --before "
                  << (jobs.empty() ? 0 : jobs.front().id) << " for the next page)\n";
    if (o.limit == 0) {
        // Every match, oldest first, a page at a time: JSON is written as each page arrives (a
        // dead letter of a million jobs never sits in memory); the table needs every row for
        // its column widths.
        f.limit = 1000;
        f.after_id = 0;
        if (o.before > 0) throw Error(ErrorCode::usage, "--before pages through --limit N; --limit 0 prints every match");
        if (o.json) std::cout << "[";
        bool first = true;
        for (;;) {
            auto page = store.list_jobs(f);
            if (page.empty()) break;
            f.after_id = page.back().id;
            const bool last = static_cast<int>(page.size()) < f.limit;
            if (o.json) {
                std::string out;
                for (const auto& j : page) {
                    out += first ? "" : ",";
                    first = false;
                    out += job_to_json(j, now);
                }
                std::cout << out << std::flush;
            } else {
                for (auto& j : page) jobs.push_back(std::move(j));
            }
            if (last) break;
        }
        if (o.json) {
            std::cout << "]\n";
            return 0;
        }
    }
    if (o.json) {
        std::string out = "[";
        for (std::size_t i = 0; i < jobs.size(); ++i) out += (i ? "," : "") + job_to_json(jobs[i], now);
        std::cout << out << "]\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& j : jobs) {
        std::string state = j.state == JobState::running && j.prefetched ? std::string("prefetched")
                                                                          : display_state(j.state, j.run_at, j.attempt, now);
        std::string note;
        if (j.state == JobState::waiting && j.wait_event) note = "waits for " + *j.wait_event + (j.wait_key ? " key " + *j.wait_key : "");
        else if (j.state == JobState::pending && j.run_at > now) note = "runs in " + format_duration_ms(j.run_at - now);
        else if (j.state == JobState::running) note = running_note(j, now);
        // Held back by flow control: which key it waits for (`wfq why ID` says why).
        if (j.held && j.held_by) note += (note.empty() ? "" : "; ") + std::string("held by limit ") + *j.held_by;
        // A due job of a group takes its group's turn (`wfq why ID` says where it stands).
        else if (j.state == JobState::pending && j.group && j.run_at <= now)
            note += (note.empty() ? "" : "; ") + std::string("turn of group ") + *j.group;
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
    auto logs = store.job_logs(o.id, std::nullopt);
    TimeMs now = store.db_now();
    if (o.json) {
        json j = job_json(*job, now);
        json ev = json::array();
        for (const auto& e : events) ev.push_back(job_event_json(e));
        j["events"] = ev;
        // Where the job's own logs are: `wfq jobs logs ID` prints them.
        json lj = json::array();
        for (const auto& l : logs)
            lj.push_back({{"attempt", l.attempt}, {"bytes", l.log.text.size()}, {"dropped_bytes", l.log.dropped_bytes}});
        j["logs"] = lj;
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    json j = job_json(*job, now);
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
    if (!logs.empty()) {
        std::cout << "\nlogs: " << (logs.size() == 1 ? "attempt" : "attempts");
        for (std::size_t i = 0; i < logs.size(); ++i) std::cout << (i ? ", " : " ") << logs[i].attempt;
        std::cout << " (wfq jobs logs " << o.id << ")\n";
    }
    return 0;
}

// `jobs retry|cancel ID...` without filters: one line (or JSON entry) per job, as before.
int run_each(Context& ctx, BulkOptions& o, BulkAction action) {
    const bool retry = action == BulkAction::retry;
    auto results = act_on_jobs(ctx.store(), action, o.request.ids, operator_name());
    json out = json::array();
    for (const auto& r : results) {
        const char* result = r.result == AdminResult::done ? (retry ? "retried" : "cancelled")
                             : r.result == AdminResult::not_found ? "not_found" : "wrong_state";
        out.push_back({{"id", r.id}, {"result", result}});
        if (r.result == AdminResult::not_found) {
            std::cerr << "wfq: job " << r.id << " not found\n";
        } else if (r.result == AdminResult::wrong_state) {
            std::cerr << "wfq: job " << r.id << " is " << (r.state ? to_string(*r.state) : "gone") << "; "
                      << (retry ? "cannot retry a running job (or its key is taken by another active job)"
                                : "only pending, waiting or running jobs can be cancelled")
                      << "\n";
        } else if (!o.json) {
            std::cout << r.id << " " << result << "\n";
        }
    }
    if (o.json) std::cout << out.dump() << "\n";
    if (auto error = act_on_jobs_error(results)) throw Error(*error);
    return 0;
}

// On a terminal, asks before touching many jobs; without one it never asks.
bool confirm_on_terminal(BulkAction action, std::int64_t matched) {
    if (!isatty(STDIN_FILENO) || !stderr_is_terminal()) return true;
    std::cerr << to_string(action) << " " << count_of(matched, "job") << "? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "y" || answer == "Y" || answer == "yes";
}

int run_bulk(Context& ctx, BulkOptions& o, BulkAction action) {
    if (action != BulkAction::prune && !has_filters(o.request)) {
        if (o.request.ids.empty())
            throw Error(ErrorCode::usage, std::string("jobs ") + to_string(action) +
                                              ": give job ids, or filters such as --state, --type, --error-class");
        return run_each(ctx, o, action);
    }
    make_bulk_filter(action, o.request);  // bad filters are usage errors before the database is opened
    check_queues(ctx.store(), o.request.scope.queues, o.strict);
    BulkCallbacks callbacks;
    if (!o.yes) callbacks.confirm = [action](std::int64_t n) { return confirm_on_terminal(action, n); };
    Progress progress(action == BulkAction::prune ? "pruned" : action == BulkAction::retry ? "retried" : "cancelled",
                      !o.json && !o.request.dry_run);
    callbacks.progress = [&](std::int64_t done) { progress.update(done); };
    BulkResult r = run_bulk_action(ctx.store(), action, o.request, operator_name(), callbacks);
    if (r.declined) throw Error(ErrorCode::failure, "not confirmed; nothing changed (use --yes to skip the question)");
    if (o.json) {
        json out{{"matched", r.matched}, {"changed", r.changed}};
        if (action == BulkAction::prune) out["deleted"] = r.changed;  // the name prune's JSON had before filters
        if (r.dry_run) {
            out["dry_run"] = true;
            out["first_ids"] = r.first_ids;
        }
        std::cout << out.dump() << "\n";
        return 0;
    }
    if (r.dry_run) {
        std::cout << count_of(r.matched, "job") << (r.matched == 1 ? " matches" : " match");
        if (!r.first_ids.empty()) {
            std::cout << "; first ids:";
            for (auto id : r.first_ids) std::cout << " " << id;
        }
        std::cout << "\n";
        return 0;
    }
    if (action == BulkAction::prune) std::cerr << "deleted " << count_of(r.changed, "job") << "\n";
    else
        std::cout << (action == BulkAction::retry ? "retried " : "cancelled ") << r.changed << " of "
                  << count_of(r.matched, "matching job") << "\n";
    return 0;
}

int run_retry(Context& ctx, BulkOptions& o) { return run_bulk(ctx, o, BulkAction::retry); }
int run_cancel(Context& ctx, BulkOptions& o) { return run_bulk(ctx, o, BulkAction::cancel); }
int run_prune(Context& ctx, BulkOptions& o) { return run_bulk(ctx, o, BulkAction::prune); }

// The filters `jobs list` shares with retry and cancel: defined once, so they read the same.
void add_scope_flags(CLI::App* sub, ScopeRequest& scope, bool& strict) {
    sub->add_option("--error-class", scope.error_classes, "Only jobs whose last error has this class, e.g. timeout (repeatable)");
    sub->add_option("--org", scope.orgs, "Only jobs of this org (repeatable)");
    sub->add_option("--repo", scope.repos, "Only jobs of this repo (repeatable)");
    sub->add_option("--newer-than", scope.newer_than, "Only jobs updated within this duration");
    sub->add_option("--running-longer-than", scope.running_longer_than,
                    "Only running jobs whose handler has run longer than this duration (never prefetched ones)");
    sub->add_flag("--strict", strict, "An unknown --queue is an error (exit 4), not a warning");
}

// The filters every bulk action takes.
void add_bulk_filters(CLI::App* sub, BulkOptions& o, const char* states_help) {
    sub->add_option("--state", o.request.states, states_help);
    sub->add_option("--type", o.request.scope.types, "Only jobs of this type (repeatable)");
    sub->add_option("--queue", o.request.scope.queues, "Only jobs of this queue (repeatable)");
    add_scope_flags(sub, o.request.scope, o.strict);
    sub->add_flag("--dry-run", o.request.dry_run, "Print how many jobs match and the first ids; change nothing");
    sub->add_option("--batch-size", o.request.batch_size, "Jobs per compare-and-set transaction")->capture_default_str();
    sub->add_flag("--yes", o.yes, "Do not ask before touching more than 1,000 jobs on a terminal");
    sub->add_flag("--json", o.json, "Print JSON");
}

}  // namespace

void add_jobs_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("jobs", "Inspect and manage jobs");
    group->require_subcommand(1);

    auto l = std::make_shared<ListOptions>();
    auto* list = group->add_subcommand("list", "List jobs, newest last");
    list->add_option("--state", l->states, "pending, running, waiting, completed, failed, cancelled, scheduled, retrying (repeatable)");
    list->add_option("--type", l->scope.types, "Only this type (repeatable)");
    list->add_option("--queue", l->scope.queues, "Only this queue (repeatable)");
    list->add_flag("--stuck", l->stuck, "Running jobs whose lease expired or whose worker is dead");
    add_scope_flags(list, l->scope, l->strict);
    list->add_option("--older-than", l->scope.older_than, "Only jobs last updated longer ago than this duration");
    list->add_option("--limit", l->limit, "At most this many (the newest; stderr says when more match); 0: all")
        ->capture_default_str();
    list->add_option("--before", l->before, "Only jobs with a smaller id: the page before one whose first id this is");
    list->add_flag("--json", l->json, "Print a JSON array");
    on_run(list, ctx, l, run_list);

    auto s = std::make_shared<ShowOptions>();
    auto* show = group->add_subcommand("show", "Show all fields of a job and its timeline");
    show->add_option("id", s->id, "Job id")->required();
    show->add_flag("--json", s->json, "Print JSON");
    on_run(show, ctx, s, run_show);

    add_job_logs_command(group, ctx);

    auto r = std::make_shared<BulkOptions>();
    auto* retry = group->add_subcommand(
        "retry", "Requeue jobs now with a fresh set of attempts, by id or by filter (never a running job)");
    retry->add_option("ids", r->request.ids, "Job ids (with filters: only these, if they match)");
    retry->add_option("--older-than", r->request.scope.older_than, "Only jobs last updated longer ago than this duration");
    add_bulk_filters(retry, *r, "pending, waiting, completed, failed, cancelled (repeatable; default failed)");
    on_run(retry, ctx, r, run_retry);

    auto c = std::make_shared<BulkOptions>();
    auto* cancel = group->add_subcommand(
        "cancel", "Cancel pending, waiting or running jobs, by id or by filter; running handlers stop at once");
    cancel->add_option("ids", c->request.ids, "Job ids (with filters: only these, if they match)");
    cancel->add_option("--older-than", c->request.scope.older_than, "Only jobs last updated longer ago than this duration");
    add_bulk_filters(cancel, *c, "pending, running, waiting (repeatable; default all three)");
    on_run(cancel, ctx, c, run_cancel);

    auto p = std::make_shared<BulkOptions>();
    p->request.batch_size = 1000;
    auto* prune = group->add_subcommand("prune", "Delete finished jobs last updated longer ago than a duration, in batches");
    prune->add_option("--older-than", p->request.scope.older_than, "Only jobs last updated longer ago than this duration")->required();
    add_bulk_filters(prune, *p, "completed, failed, cancelled (repeatable; default all three)");
    on_run(prune, ctx, p, run_prune);
}

}  // namespace wfq::cli
