-- name: jobs by id with their creation time: `jobs list --older-than` without reading the newer rows
-- `jobs list --older-than 1d` walked the table back from the newest job and read every row
-- updated within the window to reject it (a day of 30 is 333,000 rows of 10M: 0.14-0.29 s; a
-- week 0.4 s). A job is updated no earlier than it was created (updated_at >= created_at), so
-- every job above the newest id created before the bound was updated within the window too:
-- `jobs list` finds that id by walking this index alone (a week at 10M rows: 80 ms) and walks
-- the rows from it down. created_at never changes, so SQLite writes this index once per job,
-- at its enqueue (an index on updated_at would be written by every claim and every outcome).
-- bench/README.md measures it.
CREATE INDEX jobs_id_created ON jobs (id, created_at);
