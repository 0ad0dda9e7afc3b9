-- name: pipelines: checkpoints, signals, waits
CREATE TABLE checkpoints (
  job_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  stage TEXT NOT NULL,
  kind TEXT NOT NULL,
  gzipped INTEGER NOT NULL,
  raw_bytes INTEGER NOT NULL,
  stored_bytes INTEGER NOT NULL,
  data BLOB NOT NULL,
  summary TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (job_id, seq));
CREATE TABLE signals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event TEXT NOT NULL,
  key TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  consumed_by INTEGER);
CREATE INDEX signals_pending ON signals (event, key, id) WHERE consumed_by IS NULL;
ALTER TABLE jobs ADD COLUMN wait_spec TEXT;
ALTER TABLE jobs ADD COLUMN signal_data TEXT;
CREATE INDEX jobs_waiting ON jobs (wait_event, wait_key) WHERE state = 'waiting';
