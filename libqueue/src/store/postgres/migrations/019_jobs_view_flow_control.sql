-- name: jobs_view shows flow control's columns: the group, the limit keys, the key a held-back job waits for
-- The view for ad-hoc SQL (wfq-migrate(1)) kept migration 1's columns; these come last, so
-- queries written against the old view keep working. held_by is set while the job is held back.
CREATE OR REPLACE VIEW jobs_view AS
  SELECT id, type, queue, state, priority, attempt, max_attempts, key, lock_key, org, repo,
         correlation_id, lease_owner, error_class, last_error, current_stage,
         to_timestamp(run_at / 1000.0) AS run_at,
         to_timestamp(lease_expires_at / 1000.0) AS lease_expires_at,
         to_timestamp(created_at / 1000.0) AS created_at,
         to_timestamp(finished_at / 1000.0) AS finished_at,
         grp, limit_keys, held_by
  FROM jobs;
