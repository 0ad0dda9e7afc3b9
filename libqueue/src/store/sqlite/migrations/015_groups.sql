-- name: group turns: a job's group, its place in its group's turns, the claim index on the turn key
-- As on PostgreSQL (see its 015): grp is the job's group (NULL: none), turn_lag its place in its
-- group's turns (0 for a job without a group), job_group_turns each group's last turn per queue
-- and priority, and the claim index orders a priority's jobs by the turn key. The expression is
-- turn_key() in store/sql/sql_text.cpp, word for word.
ALTER TABLE jobs ADD COLUMN grp TEXT;
ALTER TABLE jobs ADD COLUMN turn_lag INTEGER NOT NULL DEFAULT 0;
CREATE TABLE job_group_turns (
  queue TEXT NOT NULL,
  priority INTEGER NOT NULL,
  grp TEXT NOT NULL,
  tail INTEGER,
  PRIMARY KEY (queue, priority, grp)) WITHOUT ROWID;
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (queue, held, priority DESC,
  (CASE WHEN run_at < 9000000000000 THEN run_at ELSE 9000000000000 END * 1000000 + turn_lag), id) WHERE state = 'pending';
