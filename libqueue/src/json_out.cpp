#include <wfq/json_out.h>
#include <wfq/limits.h>

#include <wfq/backoff.h>
#include <wfq/diagnose.h>
#include <wfq/duration.h>
#include <wfq/job.h>
#include <wfq/operating.h>
#include <wfq/queue.h>
#include <wfq/schedule.h>
#include <wfq/state.h>
#include <wfq/worker.h>

#include <nlohmann/json.hpp>

namespace wfq {

using nlohmann::json;

namespace {

json opt_time(const std::optional<TimeMs>& t) { return t ? json(format_time(*t)) : json(nullptr); }
json opt_str(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

}  // namespace

json job_json(const Job& job, TimeMs now) {
    json j;
    j["id"] = job.id;
    j["type"] = job.type;
    j["queue"] = job.queue;
    j["state"] = to_string(job.state);
    // A running job still waiting in its worker for a free handler shows as prefetched.
    j["display_state"] = job.state == JobState::running && job.prefetched ? std::string("prefetched")
                                                                            : display_state(job.state, job.run_at, job.attempt, now);
    j["payload"] = json::parse(job.payload, nullptr, false);
    j["priority"] = job.priority;
    j["run_at"] = format_time(job.run_at);
    j["attempt"] = job.attempt;
    j["max_attempts"] = job.max_attempts;
    j["snoozes"] = job.snoozes;
    j["releases"] = job.releases;
    j["prefetched"] = job.state == JobState::running && job.prefetched;
    // How long its handler has run (from the claim): running jobs only, not prefetched ones.
    j["running_ms"] = running_ms(job, now) ? json(*running_ms(job, now)) : json(nullptr);
    j["key"] = opt_str(job.key);
    j["lock_key"] = opt_str(job.lock_key);
    j["limits"] = job.limits;
    j["held_by"] = opt_str(job.held_by);  // pending, held back until this limit key admits it
    j["group"] = opt_str(job.group);      // flow control's group: groups take turns
    j["org"] = opt_str(job.org);
    j["repo"] = opt_str(job.repo);
    j["correlation_id"] = job.correlation_id;
    j["traceparent"] = opt_str(job.traceparent);
    j["lease_owner"] = opt_str(job.lease_owner);
    j["lease_expires_at"] = opt_time(job.lease_expires_at);
    j["current_stage"] = opt_str(job.current_stage);
    j["last_error"] = opt_str(job.last_error);
    j["error_class"] = opt_str(job.error_class);
    if (job.result) {
        json r = json::parse(*job.result, nullptr, false);
        j["result"] = r.is_discarded() ? json(*job.result) : r;
    } else {
        j["result"] = nullptr;
    }
    j["wait_event"] = opt_str(job.wait_event);
    j["wait_key"] = opt_str(job.wait_key);
    j["wait_deadline"] = opt_time(job.wait_deadline);
    j["created_at"] = format_time(job.created_at);
    j["updated_at"] = format_time(job.updated_at);
    j["started_at"] = opt_time(job.started_at);
    j["finished_at"] = opt_time(job.finished_at);
    return j;
}

json limit_rule_json(const LimitRule& rule) {
    json j{{"pattern", rule.pattern}};
    j["concurrency"] = rule.concurrency ? json(*rule.concurrency) : json(nullptr);
    j["rate"] = rule.rate_n && rule.rate_per_ms ? json(format_rate(*rule.rate_n, *rule.rate_per_ms)) : json(nullptr);
    j["rate_n"] = rule.rate_n ? json(*rule.rate_n) : json(nullptr);
    j["rate_per_ms"] = rule.rate_per_ms ? json(*rule.rate_per_ms) : json(nullptr);
    j["burst"] = rule.burst;
    j["weight"] = rule.weight ? json(*rule.weight) : json(nullptr);
    j["updated_at"] = format_time(rule.updated_at);
    return j;
}

json limit_rule_usage_json(const LimitRuleUsage& usage) {
    json j = limit_rule_json(usage.rule);
    json keys = json::array();
    std::int64_t running = 0, held = 0;
    for (const auto& k : usage.keys) {
        json x{{"key", k.key}, {"running", k.running}, {"admitted", k.admitted}, {"held", k.held}};
        x["tokens"] = k.tokens ? json(*k.tokens) : json(nullptr);
        x["wake_at"] = opt_time(k.wake_at);
        keys.push_back(x);
        running += k.running;
        held += k.held;
    }
    j["running"] = running;
    j["held"] = held;
    j["keys"] = keys;
    return j;
}

std::string job_to_json(const Job& job, TimeMs now, int indent) { return job_json(job, now).dump(indent); }

json job_event_json(const JobEvent& e) {
    json x{{"at", format_time(e.at)}, {"kind", e.kind}, {"state", e.state}, {"attempt", e.attempt},
           {"worker", opt_str(e.worker)}, {"message", opt_str(e.message)}};
    x["data"] = e.data ? json::parse(*e.data, nullptr, false) : json(nullptr);
    return x;
}

json lock_grant_json(const LockGrant& g) {
    return {{"key", g.key},
            {"owner", g.owner},
            {"token", g.token},
            {"acquired_at", format_time(g.acquired_at)},
            {"expires_at", format_time(g.expires_at)},
            {"expired", g.expired}};
}

json schedule_json(const Schedule& s) {
    return {{"name", s.name}, {"cron", s.cron}, {"tz", s.tz}, {"type", s.type}, {"queue", s.queue},
            {"payload", json::parse(s.payload, nullptr, false)}, {"priority", s.priority},
            {"max_attempts", s.max_attempts}, {"key", opt_str(s.key)}, {"key_mode", to_string(s.key_mode)}, {"org", opt_str(s.org)},
            {"repo", opt_str(s.repo)}, {"limits", s.limits}, {"group", opt_str(s.group)},
            {"paused", s.paused}, {"next_run", opt_time(s.next_run)},
            {"last_run", opt_time(s.last_run)},
            {"last_job_id", s.last_job_id ? json(*s.last_job_id) : json(nullptr)}};
}

json tick_fired_json(const TickFired& f) {
    return {{"schedule", f.schedule}, {"scheduled_for", format_time(f.scheduled_for)}, {"job_id", f.job_id}};
}

json worker_json(const WorkerInfo& w, TimeMs now, std::int64_t dead_after_ms) {
    return {{"id", w.id}, {"hostname", w.hostname}, {"pid", w.pid}, {"queues", w.queues}, {"types", w.types},
            {"started_at", format_time(w.started_at)}, {"last_heartbeat", format_time(w.last_heartbeat)},
            {"alive", worker_alive(w, now, dead_after_ms)}, {"running", w.running},
            {"stats", json::parse(w.stats, nullptr, false)}};
}

json worker_stats_json(const std::string& worker_id, const WorkerStats& s) {
    return {{"worker_id", worker_id}, {"claimed", s.claimed},   {"completed", s.completed}, {"retried", s.retried},
            {"failed", s.failed},     {"released", s.released}, {"lost", s.lost},           {"rescued", s.rescued},
            {"snoozed", s.snoozed},   {"parked", s.parked},     {"deferred", s.deferred},
            {"retrying_later", s.retrying_later}, {"interrupted", s.interrupted}};
}

json stored_signal_json(const StoredSignal& s) {
    return {{"id", s.id}, {"event", s.event}, {"key", s.key}, {"data", json::parse(s.data, nullptr, false)},
            {"created_at", format_time(s.created_at)}, {"expires_at", opt_time(s.expires_at)}};
}

json checkpoint_json(const Checkpoint& c) {
    return {{"checkpoint", c.seq}, {"stage", c.stage}, {"kind", c.kind}, {"gzip", c.gzipped},
            {"raw_bytes", c.raw_bytes}, {"stored_bytes", c.stored_bytes}, {"summary", json::parse(c.summary)}};
}

std::vector<std::string> estimated_fields(const QueueSummary& q) {
    std::vector<std::string> out;
    if (q.pending_estimated) out.insert(out.end(), {"pending", "scheduled"});
    if (q.failed_estimated) out.emplace_back("failed");
    return out;
}

std::string count_text(std::int64_t n, bool estimated) { return (estimated ? "~" : "") + std::to_string(n); }

json queue_summary_json(const QueueSummary& q) {
    return {{"queue", q.queue}, {"pending", q.pending}, {"scheduled", q.scheduled}, {"running", q.running},
            {"waiting", q.waiting}, {"failed", q.failed}, {"completed_last_hour", q.completed_last_hour},
            {"oldest_pending_age_ms", q.oldest_pending_age_ms ? json(*q.oldest_pending_age_ms) : json(nullptr)},
            {"paused", q.paused}, {"estimated", estimated_fields(q)}};
}

json migration_json(const MigrationInfo& m, bool applied_only) {
    if (applied_only) return {{"version", m.version}, {"name", m.name}};
    return {{"version", m.version}, {"name", m.name}, {"applied", m.applied_at.has_value()}, {"applied_at", opt_time(m.applied_at)}};
}

json finding_json(const Finding& f) {
    return {{"check", f.check}, {"severity", f.severity}, {"message", f.message}, {"fix", f.fix}};
}

json backoff_step_json(const BackoffStep& s) {
    json j{{"retry", s.retry}, {"delay_ms", s.delay_ms}, {"min_ms", s.min_ms}, {"max_ms", s.max_ms}};
    if (s.sample_ms) j["sample_ms"] = *s.sample_ms;
    return j;
}

std::string top_to_json(const TopSnapshot& s) {
    json out{{"now", format_time(s.now)}};
    json queues = json::array(), workers = json::array(), failures = json::array(), stuck = json::array(),
         running = json::array();
    for (const auto& q : s.queues)
        queues.push_back({{"queue", q.summary.queue}, {"pending", q.summary.pending}, {"scheduled", q.summary.scheduled},
                          {"running", q.summary.running}, {"waiting", q.summary.waiting}, {"failed", q.summary.failed},
                          {"completed_last_hour", q.summary.completed_last_hour},
                          {"completed_last_minute", q.completed_last_minute}, {"failed_last_minute", q.failed_last_minute},
                          {"oldest_pending_age_ms", q.summary.oldest_pending_age_ms ? json(*q.summary.oldest_pending_age_ms) : json()},
                          {"paused", q.summary.paused}, {"estimated", estimated_fields(q.summary)}});
    for (const auto& w : s.workers)
        workers.push_back({{"id", w.id}, {"hostname", w.hostname}, {"running", w.running},
                           {"started_at", format_time(w.started_at)}, {"last_heartbeat", format_time(w.last_heartbeat)}});
    for (const auto& j : s.recent_failures)
        failures.push_back({{"id", j.id}, {"type", j.type}, {"queue", j.queue}, {"error_class", j.error_class},
                            {"attempt", j.attempt}, {"finished_at", format_time(j.at)}});
    for (const auto& j : s.stuck)
        stuck.push_back({{"id", j.id}, {"type", j.type}, {"queue", j.queue}, {"worker", j.worker}, {"attempt", j.attempt},
                         {"lease_expires_at", format_time(j.at)}});
    out["queues"] = queues;
    out["workers"] = workers;
    out["recent_failures"] = failures;
    out["stuck"] = stuck;
    json limits = json::array();
    for (const auto& l : s.limits) {
        json x{{"rule", l.rule}, {"key", l.key}, {"running", l.running}, {"held", l.held}};
        x["concurrency"] = l.concurrency ? json(*l.concurrency) : json(nullptr);
        limits.push_back(x);
    }
    out["limits"] = limits;
    for (const auto& j : s.longest_running)
        running.push_back({{"id", j.id}, {"type", j.type}, {"queue", j.queue}, {"worker", j.worker}, {"attempt", j.attempt},
                           {"started_at", format_time(j.at)}, {"running_ms", std::max<std::int64_t>(0, s.now - j.at)}});
    out["longest_running"] = running;
    return out.dump();
}

}  // namespace wfq
