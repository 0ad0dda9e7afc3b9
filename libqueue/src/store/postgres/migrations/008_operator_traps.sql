-- name: operator traps: bounded releases, prefetched jobs, expiring signals
-- How often a job was handed back unfinished (worker stopped, --max-time): --max-releases bounds it.
ALTER TABLE jobs ADD COLUMN releases integer NOT NULL DEFAULT 0;
-- 1 while a claimed job waits in a worker for a free handler (prefetched), 0 once one runs it.
ALTER TABLE jobs ADD COLUMN prefetched integer NOT NULL DEFAULT 0;
-- A stored signal that no wait consumed is dropped after this time (signal --keep).
ALTER TABLE signals ADD COLUMN expires_at bigint;
