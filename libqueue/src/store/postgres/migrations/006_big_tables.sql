-- name: big tables: indexes for reads at millions of finished jobs, autovacuum for the hot tables
-- Read commands count and list active jobs, and finished ones by state and time, from small
-- indexes instead of the whole table (issue 14: 10M finished jobs).
-- Active jobs by queue: exact per-queue counts and oldest due age from the index alone.
CREATE INDEX jobs_active_queue ON jobs (queue, state, type, run_at) WHERE state IN ('pending', 'running', 'waiting');
-- Finished jobs by state and time, carrying queue and type: failed counts, the last minute's
-- and hour's completions, the latest failures (index-only scans). Partial, like the next one:
-- a job's enqueue and claim then write no entry here (every index entry is paid per job).
CREATE INDEX jobs_finished ON jobs (state, finished_at) INCLUDE (queue, type)
  WHERE state IN ('completed', 'failed', 'cancelled');
DROP INDEX jobs_state_finished;
-- `jobs list --state S` newest first for failed, cancelled and waiting jobs (completed jobs are
-- most of the table, so walking the primary key backwards finds them at once; pending and
-- running jobs have their own partial indexes, jobs_claim and jobs_running_lease).
CREATE INDEX jobs_state_id ON jobs (state, id) WHERE state IN ('failed', 'cancelled', 'waiting');
-- Autovacuum for the tables every job touches. Each job inserts a row, updates it two or three
-- times (claim, finish; lease renewals) and, with --retention, is deleted a minute later: the
-- default scale factor (20%) lets a table of 10M rows gather 2M dead rows before a vacuum and
-- then vacuums it all at once, throttled. Small, frequent, lightly throttled vacuums keep the
-- table its steady size, and keep the visibility map current, which the index-only scans above
-- need. Job state changes touch indexed columns, so they cannot be HOT updates; a fillfactor
-- below 100 still lets a row's new version land on its own page (no new page, no extra read).
ALTER TABLE jobs SET (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 1);
ALTER TABLE job_events SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 1);
ALTER TABLE checkpoints SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 1);
-- Heartbeats and lock renewals update columns no index holds: with room on the page those are
-- HOT updates (no index writes, pruned without vacuum). These tables are tiny and rewritten
-- every second, so vacuum them after a fixed number of dead rows.
ALTER TABLE workers SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200);
ALTER TABLE locks SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200);
