-- name: job logs: each attempt's handler stderr, capped, kept with the job until it is pruned
CREATE TABLE job_logs (
  job_id bigint NOT NULL,
  attempt integer NOT NULL,
  at bigint NOT NULL,
  log text NOT NULL,
  dropped_bytes bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt));
