-- name: reads without walks: known queues, retrying and scheduled jobs, failed, cancelled and waiting jobs, error classes
-- `jobs list` with a filter no index held walked the primary key back from the newest job until
-- it had its page: the whole table (0.3-1.4 s at 10M rows) for a queue no job has, an error class
-- no job has, retrying or scheduled jobs beside a backlog of due ones, failed or cancelled jobs
-- under millions of newer completed ones. Each index here is partial, entered only by the rare
-- rows it lists: an enqueue, a claim and a job that succeeds first time write none of them
-- (SQLite skips a partial index whose predicate is false for the old and the new row).
-- (Migration 14 left jobs_state_list and jobs_error_class out of SQLite after `bench work`
-- wall-clock pairs of 10-30%: bench/README.md counts what each costs in instructions.)
-- jobs_state_list's predicate is not `state IN ('failed', 'cancelled', 'waiting')`: SQLite
-- evaluates an `IN` list of three or more constants through a temporary b-tree it builds for
-- each row a statement writes (this index alone then made `bench work` execute 26% more
-- instructions), one of two by comparisons. Nor an OR of three equalities: SQLite then used it
-- for any `state = 'failed'` (top's latest failures sorted 1M of them by finished_at instead of
-- reading jobs_finished); as written only a query that carries the term uses it (STATE_LIST_TERM).
CREATE INDEX jobs_state_list ON jobs (state, id, queue, type) WHERE (state IN ('failed', 'cancelled') OR state = 'waiting');
CREATE INDEX jobs_error_class ON jobs (error_class, id) WHERE error_class IS NOT NULL;
-- Retrying: pending again after an attempt (retried, rescued). Scheduled: pending with a run_at
-- after the enqueue (a delay, a backoff); a job due at once has run_at = created_at.
CREATE INDEX jobs_retrying ON jobs (id) WHERE state = 'pending' AND attempt > 0;
CREATE INDEX jobs_scheduled ON jobs (id, run_at) WHERE state = 'pending' AND run_at > created_at;
-- Every queue a job has ever had (a job's queue never changes; `jobs prune` leaves the name):
-- `jobs list --queue Q` for a Q no job has answers at once. A queue is written once, by the
-- first job that names it.
CREATE TABLE job_queues (queue TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO job_queues (queue) SELECT DISTINCT queue FROM jobs;
CREATE TRIGGER jobs_queue_seen AFTER INSERT ON jobs
  WHEN NOT EXISTS (SELECT 1 FROM job_queues WHERE queue = NEW.queue)
BEGIN
  INSERT OR IGNORE INTO job_queues (queue) VALUES (NEW.queue);
END;
