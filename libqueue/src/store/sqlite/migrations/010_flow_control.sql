-- name: flow control: limit keys, rules, admitted slots, held-back jobs out of the claim range
-- As on PostgreSQL (see its 010): rules, the admitted jobs' slots, the keys freed since the
-- last admission pass, each key's rate bucket.
CREATE TABLE limit_rules (
  pattern TEXT PRIMARY KEY,
  concurrency INTEGER,
  rate_n INTEGER, rate_per_ms INTEGER, burst INTEGER NOT NULL DEFAULT 1,
  weight INTEGER,
  updated_at INTEGER NOT NULL);
CREATE TABLE job_limits (
  job_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (job_id, key)) WITHOUT ROWID;
CREATE INDEX job_limits_key ON job_limits (key);
CREATE TABLE limit_freed (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL);
CREATE TABLE limit_state (
  key TEXT PRIMARY KEY,
  tokens REAL,
  refilled_at INTEGER,
  wake_at INTEGER);
CREATE INDEX limit_state_wake ON limit_state (wake_at) WHERE wake_at IS NOT NULL;
ALTER TABLE jobs ADD COLUMN limit_keys TEXT;
ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN held_by TEXT;
UPDATE jobs SET limit_keys = json_array(lock_key) WHERE lock_key IS NOT NULL AND state IN ('pending', 'running', 'waiting');
UPDATE jobs SET held = 1, held_by = lock_key WHERE lock_key IS NOT NULL AND state = 'pending';
INSERT INTO job_limits (job_id, key) SELECT id, lock_key FROM jobs WHERE lock_key IS NOT NULL AND state = 'running';
INSERT INTO limit_freed (key) SELECT DISTINCT lock_key FROM jobs WHERE lock_key IS NOT NULL AND state = 'pending';
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (queue, held, priority DESC, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_held ON jobs (held_by, priority DESC, id) WHERE state = 'pending' AND held = 1;
-- A limited job that becomes pending again gives up its slots and is held for admission; the
-- next admission pass looks at its keys.
CREATE TRIGGER jobs_limits_requeue AFTER UPDATE OF state ON jobs
  WHEN NEW.limit_keys IS NOT NULL AND NEW.state = 'pending' AND OLD.state <> 'pending'
BEGIN
  DELETE FROM job_limits WHERE job_id = NEW.id;
  INSERT INTO limit_freed (key) SELECT value FROM json_each(NEW.limit_keys);
  UPDATE jobs SET held = 1, held_by = json_extract(NEW.limit_keys, '$[0]') WHERE id = NEW.id;
END;
-- A job holds its slots while admitted (held = 0) and pending or running.
CREATE TRIGGER jobs_limits_free AFTER UPDATE OF state, held ON jobs
  WHEN NEW.limit_keys IS NOT NULL AND OLD.held = 0 AND OLD.state IN ('pending', 'running')
   AND NOT (NEW.held = 0 AND NEW.state IN ('pending', 'running'))
BEGIN
  DELETE FROM job_limits WHERE job_id = OLD.id;
  INSERT INTO limit_freed (key) SELECT value FROM json_each(OLD.limit_keys);
END;
CREATE TRIGGER jobs_limits_take AFTER UPDATE OF held ON jobs
  WHEN NEW.limit_keys IS NOT NULL AND OLD.held = 1 AND NEW.held = 0 AND NEW.state IN ('pending', 'running')
BEGIN
  INSERT OR IGNORE INTO job_limits (job_id, key) SELECT NEW.id, value FROM json_each(NEW.limit_keys);
END;
CREATE TRIGGER jobs_limits_deleted AFTER DELETE ON jobs
  WHEN OLD.limit_keys IS NOT NULL AND OLD.held = 0 AND OLD.state IN ('pending', 'running')
BEGIN
  DELETE FROM job_limits WHERE job_id = OLD.id;
END;
