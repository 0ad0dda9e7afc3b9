-- name: jobs by id with their creation time: `jobs list --older-than` without reading the newer rows
-- `jobs list --older-than 1d` walked the table back from the newest job and read every row
-- updated within the window to reject it (a day of 30 is 333,000 rows of 10M: 0.14-0.29 s).
-- A job is updated no earlier than it was created (updated_at >= created_at), so a job created
-- within the window was updated within it too: `jobs list` adds `created_at < bound` beside
-- `updated_at < bound` and walks this index, whose entries answer the first term; only the
-- rows created before the bound are read. created_at never changes, so SQLite writes this index
-- once per job, at its enqueue (an index on updated_at would be written by every claim and
-- every outcome). bench/README.md measures it.
CREATE INDEX jobs_id_created ON jobs (id, created_at);
