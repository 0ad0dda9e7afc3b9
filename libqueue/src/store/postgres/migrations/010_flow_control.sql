-- name: flow control: limit keys, rules, admitted slots, held-back jobs out of the claim range
-- Rules (`wfq limits set`): PATTERN is a key or a prefix ending in '*'.
CREATE TABLE limit_rules (
  pattern text PRIMARY KEY,
  concurrency integer,
  rate_n integer, rate_per_ms bigint, burst integer NOT NULL DEFAULT 1,
  weight integer,
  updated_at bigint NOT NULL);
-- One row per key of each admitted job (pending and admitted, or running): a key's used slots
-- are its rows, counted up to the cap. Written by the triggers below, so every path that
-- moves a job (outcomes, rescue, cancel, bulk, SQL) frees its slots in its own transaction.
CREATE TABLE job_limits (
  job_id bigint NOT NULL,
  key text NOT NULL,
  PRIMARY KEY (job_id, key));
CREATE INDEX job_limits_key ON job_limits (key);
-- Keys whose slots were freed (or whose jobs were enqueued) since the last admission pass:
-- append-only for the transactions that free them, so they never wait on each other.
CREATE TABLE limit_freed (
  id bigserial PRIMARY KEY,
  key text NOT NULL);
-- Per key: the rate bucket and when its held-back jobs may be admitted again.
CREATE TABLE limit_state (
  key text PRIMARY KEY,
  tokens double precision,
  refilled_at bigint,
  wake_at bigint);
CREATE INDEX limit_state_wake ON limit_state (wake_at) WHERE wake_at IS NOT NULL;
-- limit_keys: the job's keys (its lock key among them), a sorted JSON array; NULL: none.
-- held = 1: held back (pending, not admitted), waiting for held_by; it sits in its own range of
-- the claim index, so claims never read it.
ALTER TABLE jobs ADD COLUMN limit_keys text;
ALTER TABLE jobs ADD COLUMN held smallint NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN held_by text;
UPDATE jobs SET limit_keys = jsonb_build_array(lock_key)::text WHERE lock_key IS NOT NULL AND state IN ('pending', 'running', 'waiting');
UPDATE jobs SET held = 1, held_by = lock_key WHERE lock_key IS NOT NULL AND state = 'pending';
INSERT INTO job_limits (job_id, key) SELECT id, lock_key FROM jobs WHERE lock_key IS NOT NULL AND state = 'running';
INSERT INTO limit_freed (key) SELECT DISTINCT lock_key FROM jobs WHERE lock_key IS NOT NULL AND state = 'pending';
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (queue, held, priority DESC, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_held ON jobs (held_by, priority DESC, id) WHERE state = 'pending' AND held = 1;
-- The time after waiting for a lock (now() is the transaction's start).
CREATE FUNCTION wfq_clock_ms() RETURNS bigint LANGUAGE sql VOLATILE
  AS $$ SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint $$;
-- A limited job that becomes pending again (retried, released, rescued, resumed, requeued)
-- gives up its slots and is held for admission, in its place in line; the next admission pass
-- looks at its key.
CREATE FUNCTION wfq_limits_requeue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.held := 1;
  NEW.held_by := NEW.limit_keys::jsonb ->> 0;
  INSERT INTO limit_freed (key) VALUES (NEW.held_by);
  RETURN NEW;
END $$;
CREATE TRIGGER jobs_limits_requeue BEFORE UPDATE OF state ON jobs FOR EACH ROW
  WHEN (NEW.limit_keys IS NOT NULL AND NEW.state = 'pending' AND OLD.state <> 'pending')
  EXECUTE FUNCTION wfq_limits_requeue();
-- A job holds its slots while admitted (held = 0) and pending or running.
CREATE FUNCTION wfq_limits_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.held = 0 AND OLD.state IN ('pending', 'running') THEN
    DELETE FROM job_limits WHERE job_id = OLD.id;
    INSERT INTO limit_freed (key) SELECT value FROM jsonb_array_elements_text(OLD.limit_keys::jsonb);
    PERFORM pg_notify('wfq_jobs_' || current_schema(), NEW.queue);
  ELSE
    INSERT INTO job_limits (job_id, key) SELECT NEW.id, value FROM jsonb_array_elements_text(NEW.limit_keys::jsonb)
      ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_limits_slots AFTER UPDATE OF state, held ON jobs FOR EACH ROW
  WHEN (NEW.limit_keys IS NOT NULL AND
        (OLD.held = 0 AND OLD.state IN ('pending', 'running')) IS DISTINCT FROM
        (NEW.held = 0 AND NEW.state IN ('pending', 'running')))
  EXECUTE FUNCTION wfq_limits_slots();
CREATE FUNCTION wfq_limits_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM job_limits WHERE job_id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_limits_deleted AFTER DELETE ON jobs FOR EACH ROW
  WHEN (OLD.limit_keys IS NOT NULL AND OLD.held = 0 AND OLD.state IN ('pending', 'running'))
  EXECUTE FUNCTION wfq_limits_deleted();
