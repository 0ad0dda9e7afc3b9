#pragma once
// Internal: the row mappers, each beside the column list it reads (statements select these
// constants, so a column added to one is added to its mapper here).
#include "../db.h"

#include <wfq/job.h>
#include <wfq/operating.h>
#include <wfq/state.h>

namespace wfq::store {

inline constexpr const char* kJobColumns =
    "id, type, queue, payload, priority, run_at, state, attempt, max_attempts, key, lock_key, org, repo, "
    "correlation_id, traceparent, tracestate, lease_owner, lease_expires_at, current_stage, last_error, "
    "error_class, result, wait_event, wait_key, wait_deadline, created_at, updated_at, started_at, finished_at, "
    "wait_spec, signal_data, snoozes, releases, prefetched, limit_keys, held, held_by, grp, turn_lag";
// Reads a job's columns (kJobColumns), moving the strings out of the spent row.
Job job_from_row(Row&& r);
Job job_from_row(const Row& r);

inline constexpr const char* kJobEventColumns = "id, job_id, at, kind, state, attempt, worker, message, data";
JobEvent job_event_from_row(const Row& r);

inline constexpr const char* kWorkerColumns =
    "id, hostname, pid, queues, types, started_at, last_heartbeat, running, stats";
WorkerInfo worker_from_row(const Row& r);

inline constexpr const char* kLockColumns =
    "key, owner, token, acquired_at, expires_at, CASE WHEN expires_at <= wfq_now_ms() THEN 1 ELSE 0 END";
LockGrant lock_from_row(const Row& r);

inline constexpr const char* kCheckpointColumns = "seq, stage, kind, gzipped, raw_bytes, stored_bytes, data, summary";
Checkpoint checkpoint_from_row(const Row& r);

inline constexpr const char* kStoredSignalColumns = "id, event, key, data, created_at, expires_at";
StoredSignal stored_signal_from_row(const Row& r);

inline constexpr const char* kScheduleColumns =
    "name, cron, tz, type, queue, payload, priority, max_attempts, key, org, repo, "
    "paused, next_run, last_run, last_job_id, created_at, updated_at, key_mode, limit_keys, grp";
Schedule schedule_from_row(const Row& r);

}  // namespace wfq::store
