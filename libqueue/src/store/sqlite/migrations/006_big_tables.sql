-- name: big tables: indexes for reads at millions of finished jobs
-- The same indexes as on PostgreSQL (SQLite has no INCLUDE: the columns join the key).
CREATE INDEX jobs_active_queue ON jobs (queue, state, type, run_at) WHERE state IN ('pending', 'running', 'waiting');
CREATE INDEX jobs_finished ON jobs (state, finished_at, queue, type);
DROP INDEX jobs_state_finished;
CREATE INDEX jobs_state_id ON jobs (state, id) WHERE state <> 'completed';
