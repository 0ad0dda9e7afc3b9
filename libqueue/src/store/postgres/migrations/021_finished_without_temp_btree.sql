-- name: jobs_finished's predicate without an `IN` of three (SQLite only; PostgreSQL's index is unchanged)
SELECT 1;
