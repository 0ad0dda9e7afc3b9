#pragma once
// Every domain type as the JSON object wfq prints (--json) and DESIGN.md names: the one place
// that decides field names, nulls and time formats. Command results ({"released": true}) are
// the commands' own.
#include <wfq/clock.h>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace wfq {

struct BackoffStep;
struct Checkpoint;
struct Finding;
struct Job;
struct JobEvent;
struct LimitRule;
struct LimitRuleUsage;
struct LockGrant;
struct MigrationInfo;
struct QueueSummary;
struct Schedule;
struct StoredSignal;
struct TickFired;
struct TopSnapshot;
struct WorkerInfo;
struct WorkerStats;

// A job (id, state, fields, RFC 3339 times); now decides its display_state and running_ms.
nlohmann::json job_json(const Job& job, TimeMs now);
// The same, serialised (indent -1: one line).
std::string job_to_json(const Job& job, TimeMs now, int indent = -1);
// One entry of a job's timeline (`jobs show --json` events).
nlohmann::json job_event_json(const JobEvent& event);
// A lease lock: key, owner, token, acquired_at, expires_at, expired.
nlohmann::json lock_grant_json(const LockGrant& grant);
// A flow-control rule; with usage, what it holds now (running and held back, per key).
nlohmann::json limit_rule_json(const LimitRule& rule);
nlohmann::json limit_rule_usage_json(const LimitRuleUsage& usage);
nlohmann::json schedule_json(const Schedule& schedule);
// A job a schedule tick enqueued.
nlohmann::json tick_fired_json(const TickFired& fired);
// A registered worker; alive by the rescuer's rule (dead_after_ms) at now.
nlohmann::json worker_json(const WorkerInfo& worker, TimeMs now, std::int64_t dead_after_ms);
// What a worker did, as `wfq process --json` prints it at exit.
nlohmann::json worker_stats_json(const std::string& worker_id, const WorkerStats& stats);
nlohmann::json stored_signal_json(const StoredSignal& signal);
// A checkpoint's entry in `state inspect --history` (no blob).
nlohmann::json checkpoint_json(const Checkpoint& checkpoint);
nlohmann::json queue_summary_json(const QueueSummary& queue);
// A migration of `migrate --status`; applied_only: the entry `migrate` prints (version, name).
nlohmann::json migration_json(const MigrationInfo& migration, bool applied_only = false);
nlohmann::json finding_json(const Finding& finding);
nlohmann::json backoff_step_json(const BackoffStep& step);
// One frame of `wfq top`: {"now", "queues", "workers", "recent_failures", "stuck"}, serialised.
std::string top_to_json(const TopSnapshot& snapshot);

}  // namespace wfq
