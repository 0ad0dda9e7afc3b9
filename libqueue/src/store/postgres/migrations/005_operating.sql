-- name: operating: queue pauses, control changes, schedules
CREATE TABLE queue_pauses (
  queue text PRIMARY KEY,
  paused_at bigint NOT NULL,
  paused_by text NOT NULL);
CREATE TABLE control_changes (
  version bigserial PRIMARY KEY,
  kind text NOT NULL,
  subject text NOT NULL,
  at bigint NOT NULL);
CREATE TABLE schedules (
  name text PRIMARY KEY,
  cron text NOT NULL,
  tz text NOT NULL,
  type text NOT NULL,
  queue text NOT NULL,
  payload text NOT NULL,
  priority integer NOT NULL,
  max_attempts integer NOT NULL,
  key text, org text, repo text,
  paused integer NOT NULL DEFAULT 0,
  next_run bigint, last_run bigint, last_job_id bigint,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL);
