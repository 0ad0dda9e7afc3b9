-- name: flow control's slot triggers as one (SQLite): one trigger program per statement, not two
-- SQLite only. PostgreSQL's triggers (migration 10) are row triggers whose WHEN is checked
-- before any trigger function runs, and a worker's outcomes go in one statement per flush.
SELECT 1;
