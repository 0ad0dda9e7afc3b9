#include <wfq/clock.h>
#include <wfq/diagnose.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/limits.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace wfq {
namespace {

bool serves(const WorkerInfo& w, const Job& job) {
    auto has = [](const std::vector<std::string>& list, const std::string& v) {
        return list.empty() || (list.size() == 1 && list[0].empty()) || std::find(list.begin(), list.end(), v) != list.end();
    };
    return has(w.queues, job.queue) && has(w.types, job.type);
}

// The running job a filter (an idempotency key or a lock key) finds: the one a waiting job of
// that key waits for.
std::optional<Job> running_job_of(Store& store, JobFilter f) {
    f.states = {JobState::running};
    f.limit = 1;
    auto jobs = store.list_jobs(f);
    if (jobs.empty()) return std::nullopt;
    return std::move(jobs[0]);
}

}  // namespace

WhyAnswer explain_job(Store& store, std::int64_t id, std::int64_t dead_after_ms) {
    auto job = store.get_job(id);
    if (!job) throw Error(ErrorCode::not_found, "job " + std::to_string(id) + " not found");
    TimeMs now = store.db_now();
    std::string j = "Job " + std::to_string(id) + " (" + job->type + " on queue " + job->queue + ")";
    auto error_part = [&] {
        return job->last_error ? " The last error (" + job->error_class.value_or("error") + ") was: " + *job->last_error + "." : std::string();
    };
    switch (job->state) {
        case JobState::completed:
            return {"completed", j + " finished: it completed at " + format_time(job->finished_at.value_or(job->updated_at)) +
                                     " on attempt " + std::to_string(job->attempt) + "."};
        case JobState::failed: {
            // Why it failed for good: its last failed attempt's event says whether the error was
            // permanent (a permanent exit code, a handler's "permanent", a limit) or the attempts
            // ran out, and what ended the process.
            std::string how = " after " + std::to_string(job->attempt) + " of " + std::to_string(job->max_attempts) + " attempts";
            std::string ended;
            for (const auto& e : store.job_events(id)) {
                if (e.kind != "failed" || !e.data) continue;
                auto d = nlohmann::json::parse(*e.data, nullptr, false);
                if (!d.is_object()) continue;
                ended = d.contains("ended_by") && d["ended_by"].is_string() ? d["ended_by"].get<std::string>() : "";
                bool permanent = d.value("permanent", false);
                how = permanent ? " permanently on attempt " + std::to_string(e.attempt) + " of " + std::to_string(job->max_attempts) +
                                      " (a permanent error: no retry)"
                                : " after " + std::to_string(e.attempt) + " of " + std::to_string(job->max_attempts) +
                                      " attempts (the attempts ran out)";
            }
            return {"failed", j + " finished: it failed for good at " + format_time(job->finished_at.value_or(job->updated_at)) +
                                  how + "." + (ended.empty() ? "" : " The last attempt ended by " + ended + ".") + error_part() +
                                  " Run `wfq jobs retry " + std::to_string(id) + "` to try again."};
        }
        case JobState::cancelled:
            return {"cancelled", j + " finished: it was cancelled at " + format_time(job->finished_at.value_or(job->updated_at)) +
                                     "; `wfq jobs retry " + std::to_string(id) + "` requeues it."};
        case JobState::waiting:
            return {"waiting_for_event",
                    j + " is waiting for event '" + job->wait_event.value_or("?") + "'" +
                        (job->wait_key ? " with key '" + *job->wait_key + "'" : "") +
                        (job->wait_deadline ? ", until " + format_time(*job->wait_deadline) : "") + "; `wfq signal " +
                        job->wait_event.value_or("EVENT") + " --key " + job->wait_key.value_or("KEY") + "` resumes it."};
        case JobState::running:
            if (job->lease_expires_at && *job->lease_expires_at < now)
                return {"lease_expired", j + " is marked running on worker " + job->lease_owner.value_or("?") +
                                             ", but its lease expired " + format_duration_ms(now - *job->lease_expires_at) +
                                             " ago: the worker is gone or stuck. A rescuer will return it to pending; `wfq rescue` does it now."};
            if (job->prefetched)
                return {"prefetched", j + " is claimed by worker " + job->lease_owner.value_or("?") + " (attempt " +
                                          std::to_string(job->attempt) + ") but no handler runs it yet: it waits there for a free "
                                          "handler (prefetched" + (job->started_at ? ", since " + format_duration_ms(now - *job->started_at) + " ago" : "") +
                                          "). It starts when one of that worker's running jobs finishes."};
            return {"running", j + " is running: attempt " + std::to_string(job->attempt) + " on worker " +
                                   job->lease_owner.value_or("?") +
                                   (job->started_at ? " for " + format_duration_ms(std::max<std::int64_t>(0, now - *job->started_at)) : "") +
                                   (job->current_stage ? " (stage " + *job->current_stage + ")" : "") + ", lease until " +
                                   format_time(job->lease_expires_at.value_or(now)) + "."};
        case JobState::pending:
            break;
    }
    if (job->run_at > now) {
        if (job->snoozes > 0) {
            // Snoozed last (not failed since): its handler asked for later, no attempt spent.
            auto events = store.job_events(id);
            if (!events.empty() && events.back().kind == "snoozed")
                return {"snoozed", j + " is snoozed: its handler asked to run it again later (\"not now\"), " +
                                       std::to_string(job->snoozes) + (job->snoozes == 1 ? " time" : " times") +
                                       " so far; it runs again at " + format_time(job->run_at) + " (in " +
                                       format_duration_ms(job->run_at - now) + "). Snoozing spends no attempt (" +
                                       std::to_string(job->attempt) + " of " + std::to_string(job->max_attempts) +
                                       " used); a job snoozed more than --max-snoozes times (default 100) fails with "
                                       "error_class snooze_limit."};
        }
        if (job->attempt > 0)
            return {"backing_off", j + " is backing off after attempt " + std::to_string(job->attempt) + " of " +
                                       std::to_string(job->max_attempts) + "; it runs again at " + format_time(job->run_at) +
                                       " (in " + format_duration_ms(job->run_at - now) + ")." + error_part()};
        return {"scheduled", j + " is scheduled for " + format_time(job->run_at) + " (in " +
                                 format_duration_ms(job->run_at - now) + ")."};
    }
    for (const auto& p : store.queue_pauses())
        if (p.queue == job->queue)
            return {"queue_paused", j + " is due, but queue '" + job->queue + "' was paused by " + p.paused_by + " at " +
                                        format_time(p.paused_at) + "; workers claim nothing from it until `wfq queues resume " +
                                        job->queue + "`."};
    if (job->held && job->held_by && job->held_by != job->lock_key) {
        // Held back by a flow-control rule (DESIGN.md "Flow control").
        const std::string key = *job->held_by;
        auto rules = store.limit_rules();
        const LimitRule* rule = rule_for_key(rules, key);
        LimitKeyUsage u = store.limit_key_usage(key);
        const std::string by = rule ? "rule '" + rule->pattern + "'" : std::string("no rule (it was removed)");
        if (rule && rule->concurrency && u.admitted >= *rule->concurrency)
            return {"concurrency_limited", j + " is held back by " + by + " on limit key '" + key + "': " +
                                               std::to_string(u.running) + "/" + std::to_string(*rule->concurrency) +
                                               " running" + (u.admitted > u.running ? " (" + std::to_string(u.admitted - u.running) + " more about to start)" : "") +
                                               ", " + std::to_string(u.held) + " held back. It may run when one of them finishes (`wfq limits list`)."};
        if (rule && rule->rate_n && rule->rate_per_ms) {
            TimeMs next = u.wake_at.value_or(now);
            return {"rate_limited", j + " is held back by " + by + " on limit key '" + key + "' (" +
                                        format_rate(*rule->rate_n, *rule->rate_per_ms) + ", burst " + std::to_string(rule->burst) +
                                        "): its next token comes at " + format_time(std::max(next, now)) + " (in " +
                                        format_duration_ms(std::max<std::int64_t>(0, next - now)) + "); " + std::to_string(u.held) +
                                        " jobs wait for it."};
        }
        return {"ready", j + " is due and waits for limit key '" + key + "' (" + by + "), which has room: a worker's next claim admits it."};
    }
    if (job->key) {
        // A claim runs one job of an idempotency key at a time, the key's oldest due job first
        // (key modes: a newer job with the key waits for the one that started).
        JobFilter f;
        f.key = job->key;
        if (auto holder = running_job_of(store, f))
            return {"key_running", j + " waits for job " + std::to_string(holder->id) + " with the same key '" + *job->key +
                                       "', running on worker " + holder->lease_owner.value_or("?") +
                                       ": a key runs one job at a time, so it starts when that job finishes."};
        f.states = {JobState::pending};
        f.limit = 1;
        f.after_id = 0;  // the oldest first
        auto first = store.list_jobs(f);
        if (!first.empty() && first[0].id != job->id && first[0].run_at <= now)
            return {"key_queued", j + " waits for job " + std::to_string(first[0].id) + " with the same key '" + *job->key +
                                      "', which is older and due: a key runs its jobs one at a time, oldest first."};
    }
    if (job->lock_key) {
        JobFilter f;
        f.lock_key = job->lock_key;
        if (auto holder = running_job_of(store, f))
            return {"blocked_by_lock_key", j + " is blocked by lock key '" + *job->lock_key + "', held by job " +
                                               std::to_string(holder->id) + " running on worker " +
                                               holder->lease_owner.value_or("?") + "; it runs when that job finishes."};
    }
    auto workers = store.list_workers();
    bool live = false;
    for (const auto& w : workers)
        if (now - w.last_heartbeat < dead_after_ms && serves(w, *job)) live = true;
    if (!live)
        return {"no_live_worker", j + " is due, but no live worker serves queue '" + job->queue + "' and type '" + job->type +
                                      "'. Start one: `wfq process --queue " + job->queue + " --exec CMD`."};
    if (job->group && !job->held) {
        // Group turns (DESIGN.md "Flow control"): due jobs of other groups ahead of it in its
        // priority's turns.
        GroupTurnPlace place = store.group_turn_place(*job);
        if (place.ahead_other > 0) {
            auto count = [&](std::int64_t n) { return std::to_string(n) + (place.counted_all ? "" : "+"); };
            const std::string weight = std::to_string(place.weight) + (place.weight == 1 ? " turn" : " turns") + " per round" +
                                       (place.rule ? " (rule '" + *place.rule + "')" : std::string(" (no rule: the default)"));
            return {"waiting_turn", j + " is due and waits for its group's turn: group '" + *job->group + "' takes " + weight +
                                        " among the groups at priority " + std::to_string(job->priority) + " in queue '" +
                                        job->queue + "'; " + count(place.ahead_other) + " due jobs of other groups and " +
                                        count(place.ahead_own) + " of its own are ahead of it."};
        }
    }
    return {"ready", j + " is due since " + format_time(job->run_at) + " and waiting for a free worker slot (" +
                         std::to_string(job->attempt) + " attempts so far)."};
}

// A finding's message: error, naming the database (target) unless it does already.
static std::string about(const std::string& target, const std::string& what, const std::string& error) {
    if (error.find(target) != std::string::npos) return error;
    return "the database " + target + " " + what + ": " + error;
}

Finding unreachable_finding(const std::string& target, const std::string& error) {
    return {"unreachable", "error", about(target, "cannot be reached", error),
            "check that the server is up and reachable from here, and --db / WFQ_DB"};
}

Finding configuration_finding(const std::string& target, const std::string& error) {
    return {"configuration", "error", about(target, "cannot be used as configured", error),
            "fix --db / WFQ_DB (credentials, database name, path), or run `wfq migrate` when the schema is missing"};
}

int doctor_exit_code(const std::vector<Finding>& findings) {
    int code = 0;
    for (const auto& f : findings) {
        if (f.check == "unreachable") return exit_code_for(ErrorCode::db_unavailable);
        if (f.check == "configuration") code = exit_code_for(ErrorCode::config);
        else if (f.severity == "error" && code == 0) code = exit_code_for(ErrorCode::failure);
    }
    return code;
}

namespace {

// The checks, appended to out one by one so that what was found before a failure is kept.
void doctor_checks(Store& store, std::int64_t dead_after_ms, std::int64_t slow_after_ms, std::vector<Finding>& out) {
    auto t0 = std::chrono::steady_clock::now();
    store.db_now();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    out.push_back({"database", ms > 100 ? "warning" : "ok", "reachable (" + store.describe() + "), round trip " +
                                                              std::to_string(static_cast<int>(ms * 1000) / 1000.0).substr(0, 5) + " ms", ""});
    auto status = store.migration_status();
    int applied = 0;
    for (const auto& m : status) applied += m.applied_at ? 1 : 0;
    out.push_back({"schema", applied == static_cast<int>(status.size()) ? "ok" : "error",
                   "schema version " + std::to_string(applied) + " of " + std::to_string(status.size()),
                   applied == static_cast<int>(status.size()) ? "" : "wfq migrate"});
    QueueMetrics m = store.queue_metrics(dead_after_ms, false);  // no counts by state: doctor shows none
    out.push_back({"stuck_jobs", m.running_past_lease ? "error" : "ok",
                   std::to_string(m.running_past_lease) + " running jobs with an expired lease",
                   m.running_past_lease ? "wfq jobs list --stuck; wfq rescue" : ""});
    if (slow_after_ms > 0) {
        // A handler that hangs on a live worker keeps its lease: only its running time shows it.
        JobFilter slow;
        slow.states = {JobState::running};
        slow.scope.running_longer_than_ms = slow_after_ms;
        slow.limit = 6;
        auto jobs = store.list_jobs(slow);
        std::string ids;
        for (std::size_t i = 0; i < jobs.size() && i < 5; ++i) ids += (ids.empty() ? "" : ", ") + std::to_string(jobs[i].id);
        if (jobs.size() > 5) ids += ", …";
        out.push_back({"slow_job", jobs.empty() ? "ok" : "error",
                       jobs.empty() ? "no job has run longer than " + format_duration_ms(slow_after_ms)
                                    : std::string(jobs.size() > 5 ? "more than 5" : std::to_string(jobs.size())) +
                                          (jobs.size() == 1 ? " running job has" : " running jobs have") + " run longer than " +
                                          format_duration_ms(slow_after_ms) +
                                          " (--slow-after): " + ids,
                       jobs.empty() ? "" : "wfq jobs list --running-longer-than " + format_duration_ms(slow_after_ms) +
                                               "; wfq why ID; wfq jobs cancel --running-longer-than " +
                                               format_duration_ms(slow_after_ms)});
    }
    out.push_back({"workers", m.dead_workers ? "warning" : "ok",
                   std::to_string(m.live_workers) + " live workers, " + std::to_string(m.dead_workers) + " dead (silent for " +
                       format_duration_ms(dead_after_ms) + ")",
                   m.dead_workers ? "wfq workers list; wfq rescue" : ""});
    out.push_back({"locks", m.expired_locks ? "warning" : "ok",
                   std::to_string(m.held_locks) + " locks held, " + std::to_string(m.expired_locks) + " past expiry",
                   m.expired_locks ? "wfq lock list" : ""});
    out.push_back({"waiting_jobs", m.waiting_past_deadline ? "error" : "ok",
                   std::to_string(m.waiting) + " waiting jobs, " + std::to_string(m.waiting_past_deadline) + " past their deadline",
                   m.waiting_past_deadline ? "wfq jobs list --state waiting" : ""});
    if (m.oldest_pending_age_ms)
        out.push_back({"backlog", *m.oldest_pending_age_ms > 3600000 ? "warning" : "ok",
                       "oldest due job has waited " + format_duration_ms(*m.oldest_pending_age_ms),
                       *m.oldest_pending_age_ms > 3600000 ? "wfq workers list; wfq why <oldest id>" : ""});
    for (const auto& [name, value] : store.database_facts()) {
        Finding f{name, "ok", name + " = " + std::to_string(static_cast<long long>(value)), ""};
        if (name == "oldest_transaction_age_s" && value > 3600) {
            f.severity = "warning";
            f.message = "a transaction has been open for " + format_duration_ms(static_cast<std::int64_t>(value * 1000)) +
                        ": it holds back vacuum";
            f.fix = "SELECT pid, xact_start, query FROM pg_stat_activity ORDER BY xact_start LIMIT 5";
        } else if (name == "inactive_replication_slots" && value > 0) {
            f.severity = "warning";
            f.message = std::to_string(static_cast<long long>(value)) + " inactive replication slots hold back vacuum";
            f.fix = "SELECT slot_name FROM pg_replication_slots WHERE NOT active; pg_drop_replication_slot(name)";
        } else if (name == "session_jit" && value > 0) {
            f.severity = "warning";
            // wfq turns it off in each session; this finds a session where that did not hold.
            f.message = "JIT compilation is on in wfq's session: a claim over a big backlog would compile each time";
            f.fix = "ALTER ROLE CURRENT_USER SET jit = off";
        } else if (name == "jobs_dead_rows" && value > 100000) {
            f.severity = "warning";
            f.fix = "VACUUM jobs; wfq jobs prune --older-than 7d";
        }
        out.push_back(f);
    }
}

}  // namespace

std::vector<Finding> run_doctor(Store& store, std::int64_t dead_after_ms, std::int64_t slow_after_ms) {
    std::vector<Finding> out;
    try {
        doctor_checks(store, dead_after_ms, slow_after_ms, out);
    } catch (const Error& e) {
        if (e.code() == ErrorCode::db_unavailable) out.push_back(unreachable_finding(store.describe(), e.what()));
        else if (e.code() == ErrorCode::config) out.push_back(configuration_finding(store.describe(), e.what()));
        else throw;
    }
    return out;
}

}  // namespace wfq
