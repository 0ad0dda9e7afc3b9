-- name: jobs by id with their update time: `jobs list --older-than` without reading the newer rows
-- `jobs list --older-than 1d` walked the primary key back from the newest job and read every
-- row updated within the window from the heap to reject it (a day of 30 is 333,000 rows of 10M:
-- 0.19-0.33 s; a week seven times that). Walking this index instead, the condition on updated_at
-- is checked in the index entry: only the rows it keeps are read. Exact: the same rows, newest
-- id first. Every update of jobs is already a non-HOT update (state is indexed), so this costs
-- one more index entry per enqueue, claim and outcome (bench/README.md measures it).
CREATE INDEX jobs_id_updated ON jobs (id, updated_at);
