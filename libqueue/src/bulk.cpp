#include <wfq/bulk.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/process_runner.h>
#include <wfq/text.h>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace wfq {

std::int64_t duration_filter(const char* flag, const std::string& text) {
    try {
        std::int64_t ms = parse_duration_ms(text);
        if (ms < 0) throw Error(ErrorCode::usage, "must not be negative");
        return ms;
    } catch (const Error& e) {
        throw Error(ErrorCode::usage, std::string(flag) + ": " + e.what());
    }
}

namespace {

// running: the request has --running-longer-than, with which retry also takes running jobs.
std::vector<JobState> allowed_states(BulkAction action, bool running = false) {
    switch (action) {
        case BulkAction::retry:
            if (running) return {JobState::running};
            return {JobState::pending, JobState::waiting, JobState::completed, JobState::failed, JobState::cancelled};
        case BulkAction::cancel:
            return {JobState::pending, JobState::running, JobState::waiting};
        case BulkAction::prune:
            return {JobState::completed, JobState::failed, JobState::cancelled};
    }
    return {};
}

std::vector<JobState> default_states(BulkAction action, bool running) {
    if (running) return {JobState::running};
    if (action == BulkAction::retry) return {JobState::failed};
    return allowed_states(action);
}

}  // namespace

const std::vector<std::string>& known_error_classes() {
    static const std::vector<std::string> classes = {
        "exit_code",    "timeout",       "crash",        "protocol",      "handler_error", "bad_output",    "bad_input",
        "lease_expired", "wait_timeout", "snooze_limit", "release_limit", "corrupt_state", "no_workflow",   "config"};
    return classes;
}

void check_error_classes(const char* flag, const std::vector<std::string>& classes) {
    const auto& known = known_error_classes();
    for (const auto& c : classes) {
        if (std::find(known.begin(), known.end(), c) != known.end()) continue;
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        throw Error(ErrorCode::usage, std::string(flag) + ": unknown error class '" + c + "' (one of: " + list + ")");
    }
}

std::vector<std::string> unknown_queues(Store& store, const std::vector<std::string>& names) {
    if (names.empty()) return {};
    std::set<std::string> known;
    // Per-queue counts only when some name has had jobs: a queue no job has ever had (a typo)
    // is known only by a pause or a worker, and the counts cost 50-150 ms at 10M jobs.
    if (!store.queues_ever_used(names).empty())
        for (const auto& q : store.queue_summaries()) known.insert(q.queue);
    for (const auto& p : store.queue_pauses()) known.insert(p.queue);
    for (const auto& w : store.list_workers())
        for (const auto& q : w.queues) known.insert(q);
    std::vector<std::string> out;
    for (const auto& n : names)
        if (!known.count(n)) out.push_back(n);
    return out;
}

const char* to_string(BulkAction action) noexcept {
    switch (action) {
        case BulkAction::retry: return "retry";
        case BulkAction::cancel: return "cancel";
        case BulkAction::prune: return "prune";
    }
    return "?";
}

bool has_filters(const BulkRequest& r) {
    const ScopeRequest& s = r.scope;
    return !r.states.empty() || !s.types.empty() || !s.queues.empty() || !s.error_classes.empty() || !s.orgs.empty() ||
           !s.repos.empty() || !s.older_than.empty() || !s.newer_than.empty() || !s.running_longer_than.empty() || r.dry_run;
}

JobScope make_scope(const ScopeRequest& r) {
    auto names = [](const char* flag, const std::vector<std::string>& values) {
        for (const auto& v : values) check_name(flag, v, 200);
        return values;
    };
    JobScope s;
    s.types = names("--type", r.types);
    s.queues = names("--queue", r.queues);
    s.error_classes = names("--error-class", r.error_classes);
    check_error_classes("--error-class", s.error_classes);
    s.orgs = names("--org", r.orgs);
    s.repos = names("--repo", r.repos);
    if (!r.older_than.empty()) s.older_than_ms = duration_filter("--older-than", r.older_than);
    if (!r.newer_than.empty()) s.newer_than_ms = duration_filter("--newer-than", r.newer_than);
    if (!r.running_longer_than.empty())
        s.running_longer_than_ms = duration_filter("--running-longer-than", r.running_longer_than);
    return s;
}

BulkFilter make_bulk_filter(BulkAction action, const BulkRequest& r) {
    BulkFilter f;
    const bool running = !r.scope.running_longer_than.empty();
    if (running && action == BulkAction::prune) throw Error(ErrorCode::usage, "--running-longer-than: prune never touches running jobs");
    const auto allowed = allowed_states(action, running);
    for (const auto& name : r.states) {
        auto s = parse_job_state(name);
        if (!s)
            throw Error(ErrorCode::usage, "--state: unknown state '" + name +
                                              "' (pending, running, waiting, completed, failed, cancelled)");
        if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
            std::string names;
            for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(to_string(a));
            throw Error(ErrorCode::usage, std::string("--state: ") + to_string(action) + " never touches " + name +
                                              " jobs" + (running ? " with --running-longer-than" : "") + " (it takes " +
                                              names + ")");
        }
        if (std::find(f.states.begin(), f.states.end(), *s) == f.states.end()) f.states.push_back(*s);
    }
    if (f.states.empty()) f.states = default_states(action, running);
    f.ids = r.ids;
    f.scope = make_scope(r.scope);
    if (r.batch_size < 1 || r.batch_size > 10000) throw Error(ErrorCode::usage, "--batch-size must be 1 to 10000");
    return f;
}

BulkResult run_bulk_action(Store& store, BulkAction action, const BulkRequest& request, const std::string& actor,
                           const BulkCallbacks& callbacks) {
    BulkFilter filter = make_bulk_filter(action, request);
    BulkResult result;
    result.dry_run = request.dry_run;
    const std::int64_t count = store.count_matching(filter);
    if (request.dry_run) {
        result.matched = count;
        for (const auto& c : store.find_matching(filter, 0, 10)) result.first_ids.push_back(c.id);
        return result;
    }
    if (callbacks.confirm && count > callbacks.confirm_above && !callbacks.confirm(count)) {
        result.matched = count;
        result.declined = true;
        return result;
    }
    if (action == BulkAction::prune && filter.only_finished_by_age()) {
        // `jobs prune --older-than D [--state S]` (cron): what --retention runs, oldest first, one
        // range of the finished jobs' index per batch, instead of paging the whole table by id.
        result.changed = store.prune(*filter.scope.older_than_ms, filter.states, request.batch_size, callbacks.progress);
        result.matched = std::max(count, result.changed);
        return result;
    }
    // Page through in id order: a job changed by this run no longer matches (or lies behind the
    // cursor), so each job is seen once.
    std::int64_t after = 0;
    for (;;) {
        auto batch = store.find_matching(filter, after, request.batch_size);
        if (batch.empty()) break;
        after = batch.back().id;
        result.matched += static_cast<std::int64_t>(batch.size());
        result.changed += static_cast<std::int64_t>(store.apply_bulk(action, filter, batch, actor).size());
        if (callbacks.progress) callbacks.progress(result.changed);
        if (static_cast<int>(batch.size()) < request.batch_size) break;
    }
    return result;
}

AdminResult act_on_job(Store& store, BulkAction action, std::int64_t id, const std::string& actor) {
    auto job = store.get_job(id);
    if (!job) return AdminResult::not_found;
    BulkFilter f;
    f.ids = {id};
    f.states = allowed_states(action);
    if (std::find(f.states.begin(), f.states.end(), job->state) == f.states.end()) return AdminResult::wrong_state;
    return store.apply_bulk(action, f, {{id, job->state}}, actor).empty() ? AdminResult::wrong_state : AdminResult::done;
}

std::vector<JobActionResult> act_on_jobs(Store& store, BulkAction action, const std::vector<std::int64_t>& ids,
                                         const std::string& actor) {
    std::vector<JobActionResult> out;
    for (auto id : ids) {
        JobActionResult r;
        r.id = id;
        r.result = act_on_job(store, action, id, actor);
        if (r.result == AdminResult::wrong_state)
            if (auto job = store.get_job(id)) r.state = job->state;
        out.push_back(r);
    }
    return out;
}

std::optional<ErrorCode> act_on_jobs_error(const std::vector<JobActionResult>& results) {
    bool not_found = false, wrong_state = false;
    for (const auto& r : results) {
        not_found = not_found || r.result == AdminResult::not_found;
        wrong_state = wrong_state || r.result == AdminResult::wrong_state;
    }
    if (not_found && !wrong_state && results.size() == 1) return ErrorCode::not_found;
    if (not_found || wrong_state) return ErrorCode::failure;
    return std::nullopt;
}

std::string operator_name() {
    std::string user;
    for (const char* var : {"USER", "LOGNAME"})
        if (const char* v = std::getenv(var); v && *v) {
            user = v;
            break;
        }
    if (user.empty())
        if (const passwd* pw = getpwuid(geteuid())) user = pw->pw_name;
    if (user.empty()) user = std::to_string(geteuid());
    return user + "@" + host_name();
}

}  // namespace wfq
