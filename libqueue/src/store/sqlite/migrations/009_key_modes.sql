-- name: key modes: one pending job per key that has not started
-- Key modes (keep, replace, preserve-run-at) let a job with a key run while a newer one with the
-- same key waits to run after it, so the key is unique among pending jobs that have not started
-- (what a producer finds and replaces), no longer among every active job. A claim reads the
-- active jobs of a key to run them one at a time, oldest first.
DROP INDEX jobs_active_key;
CREATE UNIQUE INDEX jobs_key_unstarted ON jobs (key) WHERE key IS NOT NULL AND state = 'pending' AND started_at IS NULL;
CREATE INDEX jobs_key_active ON jobs (key, id) WHERE key IS NOT NULL AND state IN ('pending', 'running', 'waiting');
