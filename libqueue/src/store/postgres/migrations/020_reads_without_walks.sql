-- name: reads without walks: known queues, retrying and scheduled jobs, failed, cancelled and waiting jobs, error classes
-- `jobs list` with a filter no index held walked the primary key back from the newest job until
-- it had its page: the whole table (0.7-1.9 s at 10M rows) for a queue no job has, or retrying or
-- scheduled jobs beside a backlog of due ones. Both indexes are partial, entered only by the rare
-- rows they list: an enqueue, a claim and a job that succeeds first time write neither
-- (PostgreSQL checks a partial index's predicate before it inserts an entry).
-- (jobs_state_list and jobs_error_class: migrations 7 and 14.)
-- Retrying: pending again after an attempt (retried, rescued). Scheduled: pending with a run_at
-- after the enqueue (a delay, a backoff); a job due at once has run_at = created_at.
CREATE INDEX jobs_retrying ON jobs (id) WHERE state = 'pending' AND attempt > 0;
CREATE INDEX jobs_scheduled ON jobs (id) INCLUDE (run_at) WHERE state = 'pending' AND run_at > created_at;
-- Every queue a job has ever had (a job's queue never changes; `jobs prune` leaves the name):
-- `jobs list --queue Q` for a Q no job has answers at once. A queue is written once, by the
-- first statement whose jobs name it (one trigger per statement, not per row).
CREATE TABLE job_queues (queue text PRIMARY KEY);
INSERT INTO job_queues (queue) SELECT DISTINCT queue FROM jobs;
CREATE FUNCTION wfq_jobs_queue_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_queues (queue)
    SELECT DISTINCT a.queue FROM added a WHERE NOT EXISTS (SELECT 1 FROM job_queues q WHERE q.queue = a.queue)
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
-- Its own search_path, like the SQL API's functions: a session that names the table with its
-- schema (a COPY into "schema".jobs) inserts through it too.
DO $$ BEGIN
  EXECUTE format('ALTER FUNCTION wfq_jobs_queue_seen() SET search_path = %I, pg_temp', current_schema());
END $$;
CREATE TRIGGER jobs_queue_seen AFTER INSERT ON jobs REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION wfq_jobs_queue_seen();
