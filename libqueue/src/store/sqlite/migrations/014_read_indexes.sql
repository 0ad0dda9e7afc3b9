-- name: reads at scale: failed, cancelled and waiting jobs, and jobs by error class, from indexes
-- `jobs list --state failed|cancelled|waiting` (with --queue or --type tested in the index):
-- PostgreSQL's jobs_state_list (migration 7). SQLite never chose migration 6's jobs_state_id,
-- as the list bound its states as parameters; it now writes them as literals, with this
-- index's predicate word for word. Without it, a state absent from a table of a million jobs
-- walked the whole primary key (100 ms; 1 s at 10M). Only a job that fails, is cancelled or
-- waits writes an entry: enqueue, claim and completion write none.
CREATE INDEX jobs_state_list ON jobs (state, id, queue, type) WHERE state IN ('failed', 'cancelled', 'waiting');
-- `jobs list --error-class C` newest first (and the bulk commands' --error-class): without it a
-- class no job has walked the whole table. Only jobs with an error write an entry.
CREATE INDEX jobs_error_class ON jobs (error_class, id) WHERE error_class IS NOT NULL;
