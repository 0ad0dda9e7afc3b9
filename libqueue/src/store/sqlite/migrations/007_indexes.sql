-- name: indexes: no index entry per enqueue for counts
-- As on PostgreSQL: counts of active jobs read each state's own partial index. jobs_finished
-- becomes partial, as on PostgreSQL (the queries on finished jobs carry its predicate word for
-- word, which SQLite needs to use it), so an enqueue and a claim write no entry in it; and
-- jobs_state_id goes: SQLite never chose it (jobs_finished serves finished states, jobs_waiting
-- waiting ones), yet every enqueue, claim and finish wrote it.
DROP INDEX jobs_active_queue;
DROP INDEX jobs_state_id;
DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs (state, finished_at, queue, type) WHERE state IN ('completed', 'failed', 'cancelled');
