-- name: job logs: each attempt's handler stderr, capped, kept with the job until it is pruned
CREATE TABLE job_logs (
  job_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,
  log TEXT NOT NULL,
  dropped_bytes INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt));
