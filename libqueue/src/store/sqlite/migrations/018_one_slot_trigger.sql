-- name: flow control's slot triggers as one (SQLite): one trigger program per statement, not two
-- Migration 10's three triggers on jobs (requeue, free, take) each ran as a trigger program of
-- its own for every UPDATE of a job's state: SQLite evaluates a trigger's WHEN inside the
-- program and sets up the program's frame (about 4 KiB, zeroed) once per statement, keys or
-- not, and the worker records each outcome by a statement of its own. Counted with callgrind
-- (`wfq bench work --jobs 5000 --concurrency 10` on SQLite, the worker's instructions): 1,663 M
-- with no trigger against 1,732-1,781 M with the three (three runs). One trigger whose
-- statements carry the three conditions runs one program instead of two per statement; its
-- saving (1,736 M in one run) is within the run-to-run spread, so it is not proven. What each
-- part does is unchanged:
--  - requeue: a limited job that becomes pending again gives up its slots and is held for
--    admission, and the next admission pass looks at its keys;
--  - free: a job that stops holding its slots (finished, failed, cancelled, parked, rescued or
--    retried) frees them, and the next pass looks at its keys;
--  - take: an admitted job takes its slots.
-- (The inner UPDATE does not fire triggers: SQLite's recursive_triggers is off.)
DROP TRIGGER jobs_limits_requeue;
DROP TRIGGER jobs_limits_free;
DROP TRIGGER jobs_limits_take;
CREATE TRIGGER jobs_limits AFTER UPDATE OF state, held ON jobs
  WHEN NEW.limit_keys IS NOT NULL OR OLD.limit_keys IS NOT NULL
BEGIN
  DELETE FROM job_limits WHERE job_id = NEW.id AND NEW.state = 'pending' AND OLD.state <> 'pending';
  INSERT INTO limit_freed (key) SELECT value FROM json_each(NEW.limit_keys) WHERE NEW.state = 'pending' AND OLD.state <> 'pending';
  UPDATE jobs SET held = 1, held_by = json_extract(NEW.limit_keys, '$[0]')
    WHERE id = NEW.id AND NEW.state = 'pending' AND OLD.state <> 'pending';
  DELETE FROM job_limits WHERE job_id = OLD.id AND OLD.held = 0 AND OLD.state IN ('pending', 'running')
    AND NOT (NEW.held = 0 AND NEW.state IN ('pending', 'running'));
  INSERT INTO limit_freed (key) SELECT value FROM json_each(OLD.limit_keys) WHERE OLD.held = 0 AND OLD.state IN ('pending', 'running')
    AND NOT (NEW.held = 0 AND NEW.state IN ('pending', 'running'));
  INSERT OR IGNORE INTO job_limits (job_id, key) SELECT NEW.id, value FROM json_each(NEW.limit_keys)
    WHERE OLD.held = 1 AND NEW.held = 0 AND NEW.state IN ('pending', 'running');
END;
