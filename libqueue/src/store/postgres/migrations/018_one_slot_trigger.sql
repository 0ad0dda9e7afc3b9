-- name: flow control's slot triggers as one (SQLite): less work per statement for jobs without keys
-- SQLite only. PostgreSQL's triggers (migration 10) are row triggers whose WHEN is checked
-- before any trigger function runs, and a worker's outcomes go in one statement per flush.
SELECT 1;
