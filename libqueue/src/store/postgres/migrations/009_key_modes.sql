-- name: key modes: one pending job per key that has not started
-- Key modes (keep, replace, preserve-run-at) let a job with a key run while a newer one with the
-- same key waits to run after it, so the key is unique among pending jobs that have not started
-- (what a producer finds and replaces), no longer among every active job. A claim reads the
-- active jobs of a key to run them one at a time, oldest first.
DROP INDEX jobs_active_key;
CREATE UNIQUE INDEX jobs_key_unstarted ON jobs (key) WHERE key IS NOT NULL AND state = 'pending' AND started_at IS NULL;
CREATE INDEX jobs_key_active ON jobs (key, id) WHERE key IS NOT NULL AND state IN ('pending', 'running', 'waiting');

-- The SQL API (wfq-sql(7)): enqueue, enqueue_many, signal, cancel and api_version, for
-- producers in any language, inside their own transaction. Same fields, defaults, messages
-- and key semantics as `wfq enqueue` / NDJSON (libqueue/src/queue.cpp, store/sql/enqueue.cpp).
-- A later migration that changes a signature keeps the old one working or bumps api_version.
CREATE FUNCTION api_version() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;

-- Bad input: SQLSTATE 22023 (invalid_parameter_value), with the CLI's words.
CREATE FUNCTION wfq_bad_input(message text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = message;
END $$;

-- name_problem() in libqueue/src/util/text.cpp (text is valid UTF-8 and has no NUL here).
CREATE FUNCTION wfq_name_problem(value text, max_bytes integer) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE c text;
BEGIN
  IF value = '' THEN RETURN 'must not be empty'; END IF;
  IF octet_length(value) > max_bytes THEN
    RETURN 'is too long (' || octet_length(value) || ' bytes, at most ' || max_bytes || ')';
  END IF;
  c := substring(value FROM '[\x01-\x1f\x7f]');
  IF c IS NOT NULL THEN
    RETURN 'must not contain control characters (U+' || lpad(upper(to_hex(ascii(c))), 4, '0') || ')';
  END IF;
  RETURN NULL;
END $$;

-- parse_duration_ms() in libqueue/src/util/duration.cpp.
CREATE FUNCTION wfq_duration_ms(value text, at text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  rest text := value; m text[]; n numeric; factor bigint; total bigint := 0;
  bad constant text := at || 'invalid duration ''' || value || ''': ';
  hint constant text := ' (use e.g. 250ms, 30s, 5m, 2h, 1d)';
BEGIN
  IF value = '' THEN PERFORM wfq_bad_input(bad || 'empty' || hint); END IF;
  IF value = '0' THEN RETURN 0; END IF;
  WHILE rest <> '' LOOP
    m := regexp_match(rest, '^([0-9]+)([A-Za-z]*)');
    IF m IS NULL THEN PERFORM wfq_bad_input(bad || 'expected a number' || hint); END IF;
    n := m[1]::numeric;
    IF n > 922337203685477589 THEN PERFORM wfq_bad_input(bad || 'too large' || hint); END IF;
    factor := CASE m[2] WHEN 'ms' THEN 1 WHEN 's' THEN 1000 WHEN 'm' THEN 60000 WHEN 'h' THEN 3600000
                        WHEN 'd' THEN 86400000 END;
    IF factor IS NULL THEN
      PERFORM wfq_bad_input(bad || CASE WHEN m[2] = '' THEN 'missing unit' ELSE 'unknown unit ''' || m[2] || '''' END || hint);
    END IF;
    IF n > 9223372036854775807 / factor / 2 THEN PERFORM wfq_bad_input(bad || 'too large' || hint); END IF;
    total := total + n * factor;
    rest := substr(rest, length(m[1]) + length(m[2]) + 1);
  END LOOP;
  RETURN total;
END $$;

-- parse_time() in libqueue/src/util/clock.cpp: RFC 3339 to epoch milliseconds.
CREATE FUNCTION wfq_time_ms(value text, at text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  m text[]; rest text; frac text; ms integer := 0; offset_s integer := 0;
  bad constant text := at || 'invalid time ''' || value || ''': ';
BEGIN
  m := regexp_match(value, '^([0-9]{1,4})-([0-9]{1,2})-([0-9]{1,2})([Tt ])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(.*)$');
  IF m IS NULL OR m[2]::int NOT BETWEEN 1 AND 12 OR m[3]::int NOT BETWEEN 1 AND 31 OR m[5]::int > 23
     OR m[6]::int > 59 OR m[7]::int > 60 THEN
    PERFORM wfq_bad_input(bad || 'use RFC 3339, e.g. 2026-11-25T17:00:00Z');
  END IF;
  rest := m[8];
  IF left(rest, 1) = '.' THEN
    frac := substring(rest FROM '^\.([0-9]*)');
    IF frac = '' THEN PERFORM wfq_bad_input(bad || 'empty fraction'); END IF;
    ms := rpad(left(frac, 3), 3, '0')::int;
    rest := substr(rest, length(frac) + 2);
  END IF;
  IF left(rest, 1) IN ('Z', 'z') THEN
    rest := substr(rest, 2);
  ELSIF left(rest, 1) IN ('+', '-') THEN
    IF rest !~ '^[+-][0-9]{2}:[0-9]{2}$' THEN PERFORM wfq_bad_input(bad || 'bad UTC offset'); END IF;
    offset_s := (substr(rest, 2, 2)::int * 3600 + substr(rest, 5, 2)::int * 60) * CASE WHEN left(rest, 1) = '+' THEN 1 ELSE -1 END;
    rest := '';
  ELSE
    PERFORM wfq_bad_input(bad || 'needs Z or a UTC offset (RFC 3339)');
  END IF;
  IF rest <> '' THEN PERFORM wfq_bad_input(bad || 'trailing text'); END IF;
  -- Day and second added, not set, so 31 February rolls over as timegm() does.
  RETURN ((extract(epoch FROM make_timestamp(m[1]::int, m[2]::int, 1, m[5]::int, m[6]::int, 0))
           + (m[3]::int - 1) * 86400 + m[7]::int - offset_s) * 1000)::bigint + ms;
END $$;

-- parse_traceparent() and valid_tracestate() in libqueue/src/trace.cpp.
CREATE FUNCTION wfq_valid_traceparent(value text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT value ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}'
     AND left(value, 2) <> 'ff'
     AND substr(value, 4, 32) <> repeat('0', 32) AND substr(value, 37, 16) <> repeat('0', 16)
     AND CASE WHEN left(value, 2) = '00' THEN length(value) = 55
              ELSE length(value) = 55 OR substr(value, 56, 1) = '-' END
$$;
CREATE FUNCTION wfq_valid_tracestate(value text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT count(*) FILTER (WHERE btrim(m, E' \t') <> '') <= 32
     AND bool_and(btrim(m, E' \t') = ''
                  OR btrim(m, E' \t') ~ '^[a-z0-9_*/@-]{1,255}[a-z0-9_*/@-]?=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$')
  FROM unnest(string_to_array(value, ',')) AS m
$$;

-- A new job as the producer gave it, checked and with its defaults: what wfq_parse_job reads
-- and wfq_insert_job writes. (A field added later goes in all three.)
CREATE TYPE wfq_new_job AS (
  type text, queue text, payload jsonb, priority integer, run_at bigint, delay_ms bigint,
  max_attempts integer, key text, key_mode text, lock_key text, org text, repo text,
  correlation_id text, traceparent text, tracestate text);

CREATE FUNCTION wfq_str_field(j jsonb, name text, at text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF j -> name IS NULL OR jsonb_typeof(j -> name) = 'null' THEN RETURN NULL; END IF;
  IF jsonb_typeof(j -> name) <> 'string' THEN PERFORM wfq_bad_input(at || 'field ''' || name || ''' must be a string'); END IF;
  RETURN j ->> name;
END $$;

CREATE FUNCTION wfq_int_field(j jsonb, name text, at text) RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF j -> name IS NULL OR jsonb_typeof(j -> name) = 'null' THEN RETURN NULL; END IF;
  IF jsonb_typeof(j -> name) <> 'number' OR (j ->> name) !~ '^-?[0-9]+$' THEN
    PERFORM wfq_bad_input(at || 'field ''' || name || ''' must be an integer');
  END IF;
  RETURN (j ->> name)::numeric;
END $$;

-- One NDJSON object to a new job: parse_job_line() then prepare_new_job() in
-- libqueue/src/queue.cpp, in their order and with their messages; at prefixes each message
-- (enqueue_many: "job N: ", as NDJSON says "line N: ").
CREATE FUNCTION wfq_parse_job(j jsonb, at text) RETURNS wfq_new_job LANGUAGE plpgsql AS $$
DECLARE
  n wfq_new_job; k text; v text; i numeric; problem text;
BEGIN
  IF j IS NULL OR jsonb_typeof(j) <> 'object' THEN PERFORM wfq_bad_input(at || 'each job must be a JSON object'); END IF;
  FOR k IN SELECT jsonb_object_keys(j) LOOP
    -- TODO(flow control, migration 010): "limits" and "group".
    IF k <> ALL (ARRAY['type', 'payload', 'queue', 'priority', 'run_at', 'delay', 'max_attempts', 'key', 'lock_key',
                       'org', 'repo', 'correlation_id', 'traceparent', 'tracestate', 'key_mode']) THEN
      PERFORM wfq_bad_input(at || 'unknown field ''' || k || '''');
    END IF;
  END LOOP;
  n.type := wfq_str_field(j, 'type', at);
  IF n.type IS NULL OR n.type = '' THEN PERFORM wfq_bad_input(at || 'missing field ''type'''); END IF;
  n.payload := '{}';
  IF j ? 'payload' THEN
    IF jsonb_typeof(j -> 'payload') <> 'object' THEN PERFORM wfq_bad_input(at || 'field ''payload'' must be a JSON object'); END IF;
    n.payload := j -> 'payload';
  END IF;
  n.queue := COALESCE(wfq_str_field(j, 'queue', at), 'default');
  i := wfq_int_field(j, 'priority', at);
  IF i NOT BETWEEN -1000000 AND 1000000 THEN PERFORM wfq_bad_input(at || 'priority must be between -1000000 and 1000000'); END IF;
  n.priority := COALESCE(i, 0);
  i := wfq_int_field(j, 'max_attempts', at);
  IF i NOT BETWEEN 1 AND 1000 THEN PERFORM wfq_bad_input(at || 'max attempts must be between 1 and 1000'); END IF;
  n.max_attempts := COALESCE(i, 3);
  v := wfq_str_field(j, 'run_at', at);
  IF v IS NOT NULL THEN n.run_at := wfq_time_ms(v, at); END IF;
  v := wfq_str_field(j, 'delay', at);
  n.delay_ms := CASE WHEN v IS NULL THEN 0 ELSE wfq_duration_ms(v, at) END;
  n.key := wfq_str_field(j, 'key', at);
  n.key_mode := 'keep';
  v := wfq_str_field(j, 'key_mode', at);
  IF v IS NOT NULL THEN
    IF v NOT IN ('keep', 'replace', 'preserve-run-at', 'preserve_run_at') THEN
      PERFORM wfq_bad_input(at || 'field ''key_mode'' must be keep, replace or preserve-run-at');
    END IF;
    IF n.key IS NULL THEN PERFORM wfq_bad_input(at || 'field ''key_mode'' needs field ''key'''); END IF;
    n.key_mode := replace(v, '_', '-');
  END IF;
  n.lock_key := wfq_str_field(j, 'lock_key', at);
  n.org := wfq_str_field(j, 'org', at);
  n.repo := wfq_str_field(j, 'repo', at);
  n.correlation_id := COALESCE(wfq_str_field(j, 'correlation_id', at), '');
  n.traceparent := wfq_str_field(j, 'traceparent', at);
  n.tracestate := wfq_str_field(j, 'tracestate', at);
  -- prepare_new_job()
  problem := wfq_name_problem(n.type, 200);
  IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'job type ' || problem); END IF;
  problem := wfq_name_problem(n.queue, 200);
  IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'queue ' || problem); END IF;
  problem := wfq_name_problem(n.key, 1000);
  IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'key ' || problem); END IF;
  problem := wfq_name_problem(n.lock_key, 1000);
  IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'lock key ' || problem); END IF;
  problem := wfq_name_problem(n.org, 1000);
  IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'org ' || problem); END IF;
  problem := wfq_name_problem(n.repo, 1000);
  IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'repo ' || problem); END IF;
  IF n.traceparent IS NOT NULL AND NOT wfq_valid_traceparent(n.traceparent) THEN
    RAISE WARNING '%ignoring invalid traceparent ''%''; starting a new trace', at, n.traceparent;
    n.traceparent := NULL;
    n.tracestate := NULL;
  END IF;
  IF n.tracestate IS NOT NULL AND NOT wfq_valid_tracestate(n.tracestate) THEN n.tracestate := NULL; END IF;
  IF n.traceparent IS NULL THEN
    n.traceparent := '00-' || md5(random()::text || clock_timestamp()::text) || '-'
                     || left(md5(random()::text || clock_timestamp()::text), 16) || '-01';
  END IF;
  IF n.correlation_id = '' THEN
    v := md5(random()::text || clock_timestamp()::text);  -- a version 4 UUID, as make_uuid()
    n.correlation_id := substr(v, 1, 8) || '-' || substr(v, 9, 4) || '-4' || substr(v, 14, 3) || '-'
                        || substr('89ab', (get_byte(decode(substr(v, 17, 2), 'hex'), 0) % 4) + 1, 1)
                        || substr(v, 18, 3) || '-' || substr(v, 21, 12);
  ELSE
    problem := wfq_name_problem(n.correlation_id, 200);
    IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'correlation id ' || problem); END IF;
  END IF;
  RETURN n;
END $$;

-- One job into the table, with SqlStore::enqueue_keyed()'s key semantics: producers of a key
-- queue behind its transaction lock (the name the store takes); keep returns an active job
-- with the key; replace / preserve-run-at give the pending job that has not started the
-- payload (and run_at), else make a new job that runs after the started ones.
CREATE FUNCTION wfq_insert_job(n wfq_new_job) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  found_id bigint; new_id bigint; tries integer := 0;
BEGIN
  IF n.key IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('wfq-key:' || n.key, 1));
  END IF;
  LOOP
    IF n.key IS NOT NULL AND n.key_mode = 'keep' THEN
      SELECT id INTO found_id FROM jobs WHERE key = n.key AND state IN ('pending', 'running', 'waiting')
        ORDER BY CASE WHEN state = 'pending' AND started_at IS NULL THEN 0 ELSE 1 END, id DESC LIMIT 1;
      IF found_id IS NOT NULL THEN RETURN found_id; END IF;
    ELSIF n.key IS NOT NULL THEN
      UPDATE jobs SET payload = n.payload,
                      run_at = CASE WHEN n.key_mode = 'replace' THEN COALESCE(n.run_at, wfq_now_ms() + n.delay_ms) ELSE run_at END,
                      updated_at = wfq_now_ms()
        WHERE key = n.key AND state = 'pending' AND started_at IS NULL RETURNING id INTO found_id;
      IF found_id IS NOT NULL THEN
        INSERT INTO job_events (job_id, at, kind, state, attempt, message)
          VALUES (found_id, wfq_now_ms(), 'replaced', 'pending', 0,
                  CASE WHEN n.key_mode = 'replace' THEN 'payload and run_at replaced by a new enqueue (key mode replace)'
                       ELSE 'payload replaced by a new enqueue; run_at kept (key mode preserve-run-at)' END);
        RETURN found_id;
      END IF;
    END IF;
    INSERT INTO jobs (type, queue, payload, priority, run_at, max_attempts, key, lock_key, org, repo, correlation_id,
                      traceparent, tracestate, state, attempt, created_at, updated_at)
      VALUES (n.type, n.queue, n.payload, n.priority, COALESCE(n.run_at, wfq_now_ms() + n.delay_ms), n.max_attempts,
              n.key, n.lock_key, n.org, n.repo, n.correlation_id, n.traceparent, n.tracestate, 'pending', 0,
              wfq_now_ms(), wfq_now_ms())
      ON CONFLICT DO NOTHING RETURNING id INTO new_id;
    IF new_id IS NOT NULL THEN
      IF n.key IS NOT NULL AND n.key_mode <> 'keep' THEN
        INSERT INTO job_events (job_id, at, kind, state, attempt, message, data)
          SELECT id, wfq_now_ms(), 'superseded', state, attempt,
                 'job ' || new_id || ' takes the new payload and runs after this one', '{"by":' || new_id || '}'
          FROM jobs WHERE key = n.key AND id <> new_id AND state IN ('pending', 'running', 'waiting') AND started_at IS NOT NULL;
      END IF;
      RETURN new_id;
    END IF;
    tries := tries + 1;  -- a producer that took no lock inserted the key first: look again
    IF tries > 5 THEN
      RAISE EXCEPTION 'idempotency key % changed state during enqueue; retry', n.key USING ERRCODE = '40001';
    END IF;
  END LOOP;
END $$;

-- Idle workers LISTEN on wfq_jobs_<schema>; the notification is sent at commit.
CREATE FUNCTION wfq_wake_workers(queue text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_notify('wfq_jobs_' || current_schema(), queue)
$$;

CREATE FUNCTION enqueue(type text, payload jsonb DEFAULT '{}', options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE n wfq_new_job; job_id bigint;
BEGIN
  options := COALESCE(options, '{}');
  IF jsonb_typeof(options) <> 'object' THEN PERFORM wfq_bad_input('options must be a JSON object'); END IF;
  IF options ? 'type' OR options ? 'payload' THEN
    PERFORM wfq_bad_input('options must not hold ''type'' or ''payload'': they are enqueue''s first two arguments');
  END IF;
  n := wfq_parse_job(options || jsonb_build_object('type', type, 'payload', payload), '');
  job_id := wfq_insert_job(n);
  PERFORM wfq_wake_workers(n.queue);
  RETURN job_id;
END $$;

CREATE FUNCTION enqueue_many(jobs jsonb) RETURNS SETOF bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  parsed wfq_new_job[] := '{}'; n wfq_new_job; elem jsonb; ord bigint; k text; q text;
BEGIN
  IF jobs IS NULL OR jsonb_typeof(jobs) <> 'array' THEN PERFORM wfq_bad_input('jobs must be a JSON array'); END IF;
  FOR elem, ord IN SELECT e, o FROM jsonb_array_elements(jobs) WITH ORDINALITY AS a(e, o) LOOP
    parsed := parsed || wfq_parse_job(elem, 'job ' || ord || ': ');
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM unnest(parsed) p WHERE p.key IS NOT NULL) THEN
    -- No keys: one statement; ids come from the sequence in input order.
    RETURN QUERY
      WITH ins AS (
        INSERT INTO jobs (type, queue, payload, priority, run_at, max_attempts, key, lock_key, org, repo, correlation_id,
                          traceparent, tracestate, state, attempt, created_at, updated_at)
        SELECT p.type, p.queue, p.payload, p.priority, COALESCE(p.run_at, wfq_now_ms() + p.delay_ms), p.max_attempts,
               NULL, p.lock_key, p.org, p.repo, p.correlation_id, p.traceparent, p.tracestate, 'pending', 0,
               wfq_now_ms(), wfq_now_ms()
        FROM unnest(parsed) WITH ORDINALITY AS p ORDER BY p.ordinality
        RETURNING id)
      SELECT id FROM ins ORDER BY id;
  ELSE
    -- Keys locked in order first, so two producers' batches never deadlock.
    FOR k IN SELECT DISTINCT p.key FROM unnest(parsed) p WHERE p.key IS NOT NULL ORDER BY 1 LOOP
      PERFORM pg_advisory_xact_lock(hashtextextended('wfq-key:' || k, 1));
    END LOOP;
    FOREACH n IN ARRAY parsed LOOP
      RETURN NEXT wfq_insert_job(n);
    END LOOP;
  END IF;
  FOR q IN SELECT DISTINCT p.queue FROM unnest(parsed) p LOOP
    PERFORM wfq_wake_workers(q);
  END LOOP;
END $$;

-- SqlStore::signal() with `wfq signal`'s default --keep (7d); returns how many waiting jobs it
-- resumed (0: stored for the next wait).
CREATE FUNCTION signal(event text, key text, data jsonb DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE problem text; body jsonb := COALESCE(data, 'null'::jsonb); resumed integer := 0; r record;
BEGIN
  problem := wfq_name_problem(COALESCE(event, ''), 200);
  IF problem IS NOT NULL THEN PERFORM wfq_bad_input('event ' || problem); END IF;
  key := COALESCE(key, '');
  IF key <> '' THEN
    problem := wfq_name_problem(key, 1000);
    IF problem IS NOT NULL THEN PERFORM wfq_bad_input('key ' || problem); END IF;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('signal:' || event || chr(31) || key, 1));
  FOR r IN
    UPDATE jobs j SET state = 'pending', run_at = wfq_now_ms(), attempt = j.attempt - 1,
                      signal_data = jsonb_build_object('event', event, 'data', body)::text,
                      wait_spec = NULL, wait_event = NULL, wait_key = NULL, wait_deadline = NULL, updated_at = wfq_now_ms()
    WHERE j.state = 'waiting' AND j.wait_event = signal.event AND j.wait_key = signal.key RETURNING j.id, j.attempt
  LOOP
    INSERT INTO job_events (job_id, at, kind, state, attempt, message)
      VALUES (r.id, wfq_now_ms(), 'signalled', 'pending', r.attempt, 'signal ''' || event || ''' arrived');
    resumed := resumed + 1;
  END LOOP;
  IF resumed = 0 THEN
    INSERT INTO signals (event, key, data, created_at, expires_at)
      VALUES (event, key, body, wfq_now_ms(), wfq_now_ms() + 7 * 86400000);
  ELSE
    PERFORM wfq_wake_workers('*');
  END IF;
  RETURN resumed;
END $$;

-- `wfq jobs cancel ID`: true when the job was pending, running or waiting; a running job's
-- worker stops its handler within a second.
CREATE FUNCTION cancel(id bigint) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE was text; att integer;
BEGIN
  SELECT j.state INTO was FROM jobs j WHERE j.id = cancel.id FOR UPDATE;
  UPDATE jobs j SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, finished_at = wfq_now_ms(),
                    updated_at = wfq_now_ms()
    WHERE j.id = cancel.id AND j.state IN ('pending', 'running', 'waiting') RETURNING j.attempt INTO att;
  IF att IS NULL THEN RETURN false; END IF;
  INSERT INTO job_events (job_id, at, kind, state, attempt, message, data)
    VALUES (cancel.id, wfq_now_ms(), 'cancelled', 'cancelled', att, 'cancelled by ' || session_user,
            jsonb_build_object('by', session_user)::text);
  IF was = 'running' THEN
    DELETE FROM control_changes WHERE at < wfq_now_ms() - 3600000;
    INSERT INTO control_changes (kind, subject, at) VALUES ('cancel', '1', wfq_now_ms());
    PERFORM pg_notify('wfq_control_' || current_schema(), 'cancel');
  END IF;
  RETURN true;
END $$;

-- Every function runs with this schema first and pg_temp last (nothing a caller creates can
-- stand in for wfq's tables), and only roles granted EXECUTE may call them (wfq-sql(7)).
DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['api_version()', 'wfq_bad_input(text)', 'wfq_name_problem(text,integer)',
                           'wfq_duration_ms(text,text)', 'wfq_time_ms(text,text)', 'wfq_valid_traceparent(text)',
                           'wfq_valid_tracestate(text)', 'wfq_str_field(jsonb,text,text)',
                           'wfq_int_field(jsonb,text,text)', 'wfq_parse_job(jsonb,text)', 'wfq_insert_job(wfq_new_job)',
                           'wfq_wake_workers(text)', 'enqueue(text,jsonb,jsonb)', 'enqueue_many(jsonb)',
                           'signal(text,text,jsonb)', 'cancel(bigint)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
