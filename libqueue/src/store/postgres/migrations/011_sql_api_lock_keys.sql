-- name: jobs the SQL API enqueues with a lock key are held for admission like the CLI's
-- The SQL API (009) inserts rows itself; a lock key is a limit key of concurrency 1 (010), so
-- an inserted pending job with a lock key and no limit keys gets them here, and the next
-- admission pass looks at its key. The CLI's rows already carry them and pass through.
CREATE FUNCTION wfq_lock_key_limits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.limit_keys := jsonb_build_array(NEW.lock_key)::text;
  NEW.held := 1;
  NEW.held_by := NEW.lock_key;
  INSERT INTO limit_freed (key) VALUES (NEW.lock_key);
  RETURN NEW;
END $$;
CREATE TRIGGER jobs_lock_key_limits BEFORE INSERT ON jobs FOR EACH ROW
  WHEN (NEW.lock_key IS NOT NULL AND NEW.limit_keys IS NULL AND NEW.state = 'pending')
  EXECUTE FUNCTION wfq_lock_key_limits();
