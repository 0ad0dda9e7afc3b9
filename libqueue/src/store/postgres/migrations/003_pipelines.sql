-- name: pipelines: checkpoints, signals, waits
CREATE TABLE checkpoints (
  job_id bigint NOT NULL,
  seq integer NOT NULL,
  stage text NOT NULL,
  kind text NOT NULL,
  gzipped integer NOT NULL,
  raw_bytes bigint NOT NULL,
  stored_bytes bigint NOT NULL,
  data bytea NOT NULL,
  summary jsonb NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (job_id, seq));
CREATE TABLE signals (
  id bigserial PRIMARY KEY,
  event text NOT NULL,
  key text NOT NULL,
  data jsonb NOT NULL,
  created_at bigint NOT NULL,
  consumed_by bigint);
CREATE INDEX signals_pending ON signals (event, key, id) WHERE consumed_by IS NULL;
ALTER TABLE jobs ADD COLUMN wait_spec text;
ALTER TABLE jobs ADD COLUMN signal_data text;
CREATE INDEX jobs_waiting ON jobs (wait_event, wait_key) WHERE state = 'waiting';
