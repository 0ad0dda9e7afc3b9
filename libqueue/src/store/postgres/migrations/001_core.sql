-- name: core: jobs, events, workers, locks
CREATE FUNCTION wfq_now_ms() RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT (extract(epoch from now()) * 1000)::bigint $$;
CREATE TABLE jobs (
  id bigserial PRIMARY KEY,
  type text NOT NULL,
  queue text NOT NULL DEFAULT 'default',
  payload jsonb NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  run_at bigint NOT NULL,
  state text NOT NULL,
  attempt integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  key text, lock_key text, org text, repo text,
  correlation_id text NOT NULL,
  traceparent text, tracestate text,
  lease_owner text, lease_expires_at bigint,
  current_stage text, last_error text, error_class text, result text,
  wait_event text, wait_key text, wait_deadline bigint,
  created_at bigint NOT NULL, updated_at bigint NOT NULL,
  started_at bigint, finished_at bigint);
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id) WHERE state = 'pending';
CREATE UNIQUE INDEX jobs_active_key ON jobs (key) WHERE key IS NOT NULL AND state IN ('pending', 'running', 'waiting');
CREATE UNIQUE INDEX jobs_running_lock_key ON jobs (lock_key) WHERE lock_key IS NOT NULL AND state = 'running';
CREATE INDEX jobs_pending_lock_key ON jobs (lock_key, id) WHERE lock_key IS NOT NULL AND state = 'pending';
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_state_finished ON jobs (state, finished_at);
CREATE TABLE job_events (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL,
  at bigint NOT NULL,
  kind text NOT NULL,
  state text NOT NULL,
  attempt integer NOT NULL,
  worker text, message text, data text);
CREATE INDEX job_events_job ON job_events (job_id, id);
CREATE TABLE workers (
  id text PRIMARY KEY,
  hostname text NOT NULL,
  pid integer NOT NULL,
  queues text NOT NULL,
  types text NOT NULL,
  started_at bigint NOT NULL,
  last_heartbeat bigint NOT NULL,
  running integer NOT NULL DEFAULT 0,
  stats text NOT NULL DEFAULT '{}');
CREATE TABLE locks (
  key text PRIMARY KEY,
  owner text NOT NULL,
  token bigint NOT NULL,
  acquired_at bigint NOT NULL,
  expires_at bigint NOT NULL);
CREATE SEQUENCE lock_token_seq NO CYCLE;
-- Times are stored as epoch milliseconds; this view shows them as timestamptz for operators.
CREATE VIEW jobs_view AS
  SELECT id, type, queue, state, priority, attempt, max_attempts, key, lock_key, org, repo,
         correlation_id, lease_owner, error_class, last_error, current_stage,
         to_timestamp(run_at / 1000.0) AS run_at,
         to_timestamp(lease_expires_at / 1000.0) AS lease_expires_at,
         to_timestamp(created_at / 1000.0) AS created_at,
         to_timestamp(finished_at / 1000.0) AS finished_at
  FROM jobs;
