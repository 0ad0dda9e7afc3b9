-- name: reads at scale: failed, cancelled and waiting jobs, and jobs by error class, from indexes
-- (jobs_state_list is PostgreSQL's since migration 7; SQLite gets it here.)
-- `jobs list --error-class C` newest first (and the bulk commands' --error-class): without it a
-- class no job has walked the whole table (130 ms at 1M jobs, more than a second at 10M). Only
-- jobs with an error write an entry: enqueue, claim and a job that succeeds first time write none.
CREATE INDEX jobs_error_class ON jobs (error_class, id) WHERE error_class IS NOT NULL;
