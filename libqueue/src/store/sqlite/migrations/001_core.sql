-- name: core: jobs, events, workers, locks
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  queue TEXT NOT NULL DEFAULT 'default',
  payload TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  key TEXT, lock_key TEXT, org TEXT, repo TEXT,
  correlation_id TEXT NOT NULL,
  traceparent TEXT, tracestate TEXT,
  lease_owner TEXT, lease_expires_at INTEGER,
  current_stage TEXT, last_error TEXT, error_class TEXT, result TEXT,
  wait_event TEXT, wait_key TEXT, wait_deadline INTEGER,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  started_at INTEGER, finished_at INTEGER);
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id) WHERE state = 'pending';
CREATE UNIQUE INDEX jobs_active_key ON jobs (key) WHERE key IS NOT NULL AND state IN ('pending', 'running', 'waiting');
CREATE UNIQUE INDEX jobs_running_lock_key ON jobs (lock_key) WHERE lock_key IS NOT NULL AND state = 'running';
CREATE INDEX jobs_pending_lock_key ON jobs (lock_key, id) WHERE lock_key IS NOT NULL AND state = 'pending';
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_state_finished ON jobs (state, finished_at);
CREATE TABLE job_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  worker TEXT, message TEXT, data TEXT);
CREATE INDEX job_events_job ON job_events (job_id, id);
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  pid INTEGER NOT NULL,
  queues TEXT NOT NULL,
  types TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  last_heartbeat INTEGER NOT NULL,
  running INTEGER NOT NULL DEFAULT 0,
  stats TEXT NOT NULL DEFAULT '{}');
CREATE TABLE locks (
  key TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  token INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL);
CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO sequences (name, value) VALUES ('lock_token', 0);
