-- name: the SQL API takes limits and writes the limit columns itself; enqueue_many works by sets; schedules keep a key mode
-- Flow control through SQL (wfq-sql(7)): options take "limits" as NDJSON lines do, with their
-- checks and words, and the API writes limit_keys, held and held_by as SqlStore::insert_values
-- does (limit_columns() in store/sql/enqueue.cpp), so the lock-key trigger of the previous
-- migration, a second place deriving them, goes. Signatures are unchanged: api_version() stays 1.
DROP TRIGGER jobs_lock_key_limits ON jobs;
DROP FUNCTION wfq_lock_key_limits();

-- The job's limit keys as the producer gave them (NULL: none). Flow control's groups add their
-- field after this one, here, in wfq_parse_job (after limits, as parse_job_line) and in the fast
-- row of enqueue_many.
ALTER TYPE wfq_new_job ADD ATTRIBUTE limits text[];

-- check_limit_keys()' label of a key: its first 40 bytes, cut before a character that would not
-- fit, and an ellipsis when cut.
CREATE FUNCTION wfq_limit_key_label(k text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE n integer;
BEGIN
  IF octet_length(k) <= 40 THEN RETURN k; END IF;
  n := least(length(k), 40);
  WHILE octet_length(left(k, n)) > 40 LOOP n := n - 1; END LOOP;
  RETURN left(k, n) || '…';
END $$;

-- limit_keys_from_field() in libqueue/src/limits.cpp: "limits" is an array of at most 8 names
-- of at most 200 bytes.
CREATE FUNCTION wfq_limits_field(j jsonb, at text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE keys text[]; k text; problem text;
BEGIN
  IF j -> 'limits' IS NULL OR jsonb_typeof(j -> 'limits') = 'null' THEN RETURN NULL; END IF;
  IF jsonb_typeof(j -> 'limits') <> 'array'
     OR EXISTS (SELECT 1 FROM jsonb_array_elements(j -> 'limits') AS e WHERE jsonb_typeof(e) <> 'string') THEN
    PERFORM wfq_bad_input(at || 'field ''limits'' must be an array of strings');
  END IF;
  keys := ARRAY(SELECT e FROM jsonb_array_elements_text(j -> 'limits') WITH ORDINALITY AS a(e, o) ORDER BY o);
  IF cardinality(keys) > 8 THEN
    PERFORM wfq_bad_input(at || 'field ''limits'': a job names at most 8 limit keys (got ' || cardinality(keys) || ')');
  END IF;
  FOREACH k IN ARRAY keys LOOP
    problem := wfq_name_problem(k, 200);
    IF problem IS NOT NULL THEN
      PERFORM wfq_bad_input(at || 'field ''limits'' key ''' || wfq_limit_key_label(k) || ''' ' || problem);
    END IF;
  END LOOP;
  RETURN keys;
END $$;

-- limit_columns() in store/sql/enqueue.cpp, the one place SQL derives them: the limits and the
-- lock key, distinct, in byte order (as std::sort; the order every transaction visits them);
-- NULL for none. Stored as limit_keys = array_to_json(keys)::text (the JSON text nlohmann writes),
-- held = 1 and held_by = keys[1] (held back, waiting for the first), or NULL, 0, NULL.
CREATE FUNCTION wfq_sorted_limit_keys(limits text[], lock_key text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT NULLIF(ARRAY(SELECT DISTINCT k COLLATE "C" FROM unnest(limits || lock_key) AS k WHERE k IS NOT NULL ORDER BY 1), '{}')
$$;
-- (Inlined into its callers, so a job without keys costs no call.)
CREATE FUNCTION wfq_limit_keys(limits text[], lock_key text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN limits IS NULL AND lock_key IS NULL THEN NULL ELSE wfq_sorted_limit_keys(limits, lock_key) END
$$;

-- A new trace (traceparent) and a correlation id (a version 4 UUID, as make_uuid()), from
-- random() (PostgreSQL's per-session generator, seeded from strong randomness: ids need to be
-- unique, not secret, and gen_random_uuid() costs several times as much per job).
CREATE FUNCTION wfq_new_traceparent() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT '00-' || md5(random()::text || random()::text) || '-' || left(md5(random()::text || random()::text), 16) || '-01'
$$;
CREATE FUNCTION wfq_new_correlation_id() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT overlay(overlay(md5(random()::text || random()::text) PLACING '4' FROM 13)
                 PLACING substr('89ab', floor(random() * 4)::integer + 1, 1) FROM 17)::uuid::text
$$;

-- As the previous migration's, with "limits" (read after lock_key, as parse_job_line does) and
-- the new trace and correlation id from wfq_new_traceparent() and wfq_new_correlation_id().
CREATE OR REPLACE FUNCTION wfq_parse_job(j jsonb, at text) RETURNS wfq_new_job LANGUAGE plpgsql AS $$
DECLARE
  n wfq_new_job; k text; v text; i numeric; problem text;
BEGIN
  IF j IS NULL OR jsonb_typeof(j) <> 'object' THEN PERFORM wfq_bad_input(at || 'each job must be a JSON object'); END IF;
  FOR k IN SELECT jsonb_object_keys(j) LOOP
    -- Flow control's "group" joins this list with its field.
    IF k <> ALL (ARRAY['type', 'payload', 'queue', 'priority', 'run_at', 'delay', 'max_attempts', 'key', 'lock_key',
                       'limits', 'org', 'repo', 'correlation_id', 'traceparent', 'tracestate', 'key_mode']) THEN
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
  n.limits := wfq_limits_field(j, at);
  -- Flow control's "group" is read here.
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
  IF n.traceparent IS NULL THEN n.traceparent := wfq_new_traceparent(); END IF;
  IF n.correlation_id = '' THEN
    n.correlation_id := wfq_new_correlation_id();
  ELSE
    problem := wfq_name_problem(n.correlation_id, 200);
    IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'correlation id ' || problem); END IF;
  END IF;
  RETURN n;
END $$;

-- The previous migration's, writing the limit columns, and noting a held-back job's key for the
-- next admission pass, as SqlStore::enqueue_batch does.
CREATE OR REPLACE FUNCTION wfq_insert_job(n wfq_new_job) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  found_id bigint; new_id bigint; tries integer := 0; keys text[];
BEGIN
  IF n.key IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('wfq-key:' || n.key, 1));
  END IF;
  keys := wfq_limit_keys(n.limits, n.lock_key);
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
                      traceparent, tracestate, limit_keys, held, held_by, state, attempt, created_at, updated_at)
      VALUES (n.type, n.queue, n.payload, n.priority, COALESCE(n.run_at, wfq_now_ms() + n.delay_ms), n.max_attempts,
              n.key, n.lock_key, n.org, n.repo, n.correlation_id, n.traceparent, n.tracestate, array_to_json(keys)::text,
              (keys IS NOT NULL)::int, keys[1], 'pending', 0, wfq_now_ms(), wfq_now_ms())
      ON CONFLICT DO NOTHING RETURNING id INTO new_id;
    IF new_id IS NOT NULL THEN
      IF keys IS NOT NULL THEN INSERT INTO limit_freed (key) VALUES (keys[1]); END IF;
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

-- An element of enqueue_many that the set-based pass reads as it stands: an object of these
-- fields only, each absent, null, or of its type and valid (wfq_parse_job's rules; a delay of one
-- number and unit). The rest (run_at, limits, traces, anything doubtful) goes through
-- wfq_parse_job, which reads it or raises its message; so this decides speed, never words.
-- (Plain expressions, no SET search_path: they are inlined into enqueue_many.)
CREATE FUNCTION wfq_simple_name(v jsonb, max_bytes integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL OR jsonb_typeof(v) = 'null' THEN true
              WHEN jsonb_typeof(v) <> 'string' THEN false
              ELSE v #>> '{}' <> '' AND octet_length(v #>> '{}') <= max_bytes AND v #>> '{}' !~ '[\x01-\x1f\x7f]' END
$$;
CREATE FUNCTION wfq_simple_int(v jsonb, lo integer, hi integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL OR jsonb_typeof(v) = 'null' THEN true
              WHEN jsonb_typeof(v) <> 'number' OR v::text !~ '^-?[0-9]{1,7}$' THEN false
              ELSE v::text::integer BETWEEN lo AND hi END
$$;
CREATE FUNCTION wfq_simple_job(e jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN jsonb_typeof(e) IS DISTINCT FROM 'object' THEN false
    WHEN e - '{type,payload,queue,priority,max_attempts,delay,key,key_mode,lock_key,org,repo,correlation_id}'::text[] <> '{}' THEN false
    WHEN jsonb_typeof(e -> 'type') IS DISTINCT FROM 'string' OR NOT wfq_simple_name(e -> 'type', 200)
         OR (e ? 'payload' AND jsonb_typeof(e -> 'payload') <> 'object') THEN false
    WHEN NOT e ?| '{queue,priority,max_attempts,delay,key,key_mode,lock_key,org,repo,correlation_id}'::text[] THEN true
    ELSE wfq_simple_name(e -> 'queue', 200)
         AND wfq_simple_int(e -> 'priority', -1000000, 1000000) AND wfq_simple_int(e -> 'max_attempts', 1, 1000)
         AND (e ->> 'delay' IS NULL OR (jsonb_typeof(e -> 'delay') = 'string' AND e ->> 'delay' ~ '^(0|[0-9]{1,9}(ms|s|m|h|d))$'))
         AND wfq_simple_name(e -> 'key', 1000)
         AND (e ->> 'key_mode' IS NULL OR (jsonb_typeof(e -> 'key_mode') = 'string' AND jsonb_typeof(e -> 'key') = 'string'
                                           AND e ->> 'key_mode' IN ('keep', 'replace', 'preserve-run-at', 'preserve_run_at')))
         AND wfq_simple_name(e -> 'lock_key', 1000) AND wfq_simple_name(e -> 'org', 1000)
         AND wfq_simple_name(e -> 'repo', 1000)
         AND (e ->> 'correlation_id' = '' AND jsonb_typeof(e -> 'correlation_id') = 'string'
              OR wfq_simple_name(e -> 'correlation_id', 200))
  END
$$;

-- wfq_parse_job's result for an element wfq_simple_job accepts, without a check (inlined).
CREATE FUNCTION wfq_simple_job_row(e jsonb) RETURNS wfq_new_job LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN NOT e ?| '{queue,priority,max_attempts,delay,key,key_mode,lock_key,org,repo,correlation_id}'::text[] THEN
    ROW(e ->> 'type', 'default', COALESCE(e -> 'payload', '{}'), 0, NULL::bigint, 0::bigint, 3, NULL::text, 'keep', NULL::text,
        NULL::text, NULL::text, wfq_new_correlation_id(), wfq_new_traceparent(), NULL::text, NULL::text[])::wfq_new_job
  ELSE ROW(e ->> 'type', COALESCE(e ->> 'queue', 'default'), COALESCE(e -> 'payload', '{}'),
             COALESCE((e ->> 'priority')::int, 0), NULL::bigint,
             CASE WHEN e ->> 'delay' IS NULL OR e ->> 'delay' = '0' THEN 0
                  ELSE substring(e ->> 'delay' FROM '^[0-9]+')::bigint
                       * CASE substring(e ->> 'delay' FROM '[a-z]+$') WHEN 'ms' THEN 1 WHEN 's' THEN 1000
                              WHEN 'm' THEN 60000 WHEN 'h' THEN 3600000 ELSE 86400000 END END,
             COALESCE((e ->> 'max_attempts')::int, 3), e ->> 'key', COALESCE(replace(e ->> 'key_mode', '_', '-'), 'keep'),
             e ->> 'lock_key', e ->> 'org', e ->> 'repo',
             COALESCE(NULLIF(e ->> 'correlation_id', ''), wfq_new_correlation_id()), wfq_new_traceparent(), NULL::text,
             NULL::text[])::wfq_new_job END
$$;

-- Set-based: one pass reads the elements (wfq_parse_job only for those the fast reading does not
-- take, in order, so the first bad element is the one named), with the queues to wake and the
-- count of keys. Without keys, one INSERT in input order. With keys, they are locked in byte order
-- (the store's std::set order: a batch through SQL and one through the CLI never deadlock), then
-- one statement answers keep, replaces pending jobs and inserts the rest in input order, with
-- their events. A batch that names a key twice goes job by job (each depends on the one before),
-- as wfq_insert_job. Either way, the keys new held-back jobs wait for go to limit_freed once.
CREATE OR REPLACE FUNCTION enqueue_many(jobs jsonb) RETURNS SETOF bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  parsed wfq_new_job[]; n wfq_new_job; queues text[]; keys bigint; distinct_keys bigint; ids bigint[]; o integer;
  now_ms constant bigint := wfq_now_ms();
BEGIN
  IF jobs IS NULL OR jsonb_typeof(jobs) <> 'array' THEN PERFORM wfq_bad_input('jobs must be a JSON array'); END IF;
  SELECT array_agg(CASE WHEN wfq_simple_job(a.e) THEN wfq_simple_job_row(a.e)
                        ELSE wfq_parse_job(a.e, 'job ' || a.o || ': ') END ORDER BY a.o),
         array_agg(DISTINCT COALESCE(a.e ->> 'queue', 'default')), count(a.e ->> 'key'), count(DISTINCT a.e ->> 'key')
    INTO parsed, queues, keys, distinct_keys
    FROM jsonb_array_elements(jobs) WITH ORDINALITY AS a(e, o);
  IF parsed IS NULL THEN RETURN; END IF;
  IF keys = 0 THEN
    RETURN QUERY
      WITH inserted AS (
        INSERT INTO jobs (type, queue, payload, priority, run_at, max_attempts, lock_key, org, repo, correlation_id,
                          traceparent, tracestate, limit_keys, held, held_by, state, attempt, created_at, updated_at)
        SELECT p.type, p.queue, p.payload, p.priority, COALESCE(p.run_at, now_ms + p.delay_ms), p.max_attempts,
               p.lock_key, p.org, p.repo, p.correlation_id, p.traceparent, p.tracestate, array_to_json(lk.keys)::text,
               (lk.keys IS NOT NULL)::int, lk.keys[1], 'pending', 0, now_ms, now_ms
        FROM unnest(parsed) WITH ORDINALITY AS p
        CROSS JOIN LATERAL (SELECT wfq_limit_keys(p.limits, p.lock_key) AS keys OFFSET 0) AS lk
        ORDER BY p.ordinality
        RETURNING id, held_by),
      freed AS (
        INSERT INTO limit_freed (key) SELECT DISTINCT i.held_by FROM inserted AS i WHERE i.held_by IS NOT NULL)
      SELECT i.id FROM inserted AS i ORDER BY i.id;  -- ids come from the sequence in input order
  ELSE
    PERFORM pg_advisory_xact_lock(hashtextextended('wfq-key:' || s.k, 1))
      FROM (SELECT DISTINCT p.key COLLATE "C" AS k FROM unnest(parsed) AS p WHERE p.key IS NOT NULL ORDER BY 1) AS s;
  END IF;
  IF keys > distinct_keys THEN
    FOREACH n IN ARRAY parsed LOOP
      RETURN NEXT wfq_insert_job(n);
    END LOOP;
  ELSIF keys > 0 THEN
    WITH p AS (
      SELECT x.*, array_to_json(lk.keys)::text AS limit_keys, (lk.keys IS NOT NULL)::int AS held, lk.keys[1] AS held_by
      FROM unnest(parsed) WITH ORDINALITY AS x
      CROSS JOIN LATERAL (SELECT wfq_limit_keys(x.limits, x.lock_key) AS keys OFFSET 0) AS lk),
    kept AS (
      SELECT p.ordinality, f.id FROM p
      CROSS JOIN LATERAL (SELECT j.id FROM jobs AS j WHERE j.key = p.key AND j.state IN ('pending', 'running', 'waiting')
                          ORDER BY CASE WHEN j.state = 'pending' AND j.started_at IS NULL THEN 0 ELSE 1 END, j.id DESC
                          LIMIT 1) AS f
      WHERE p.key IS NOT NULL AND p.key_mode = 'keep'),
    replaced AS (
      UPDATE jobs AS j SET payload = p.payload,
                           run_at = CASE WHEN p.key_mode = 'replace' THEN COALESCE(p.run_at, now_ms + p.delay_ms)
                                         ELSE j.run_at END,
                           updated_at = now_ms
      FROM p WHERE p.key IS NOT NULL AND p.key_mode <> 'keep' AND j.key = p.key AND j.state = 'pending'
                   AND j.started_at IS NULL
      RETURNING j.id, p.ordinality, p.key_mode),
    replaced_events AS (
      INSERT INTO job_events (job_id, at, kind, state, attempt, message)
      SELECT r.id, now_ms, 'replaced', 'pending', 0,
             CASE WHEN r.key_mode = 'replace' THEN 'payload and run_at replaced by a new enqueue (key mode replace)'
                  ELSE 'payload replaced by a new enqueue; run_at kept (key mode preserve-run-at)' END
      FROM replaced AS r),
    -- The rest, with ids from the sequence in input order.
    fresh AS (
      SELECT nextval('jobs_id_seq') AS id, s.* FROM (
        SELECT p.* FROM p
        WHERE NOT EXISTS (SELECT 1 FROM kept AS k WHERE k.ordinality = p.ordinality)
          AND NOT EXISTS (SELECT 1 FROM replaced AS r WHERE r.ordinality = p.ordinality)
        ORDER BY p.ordinality) AS s),
    inserted AS (
      INSERT INTO jobs (id, type, queue, payload, priority, run_at, max_attempts, key, lock_key, org, repo,
                        correlation_id, traceparent, tracestate, limit_keys, held, held_by, state, attempt,
                        created_at, updated_at)
      SELECT f.id, f.type, f.queue, f.payload, f.priority, COALESCE(f.run_at, now_ms + f.delay_ms), f.max_attempts,
             f.key, f.lock_key, f.org, f.repo, f.correlation_id, f.traceparent, f.tracestate, f.limit_keys, f.held,
             f.held_by, 'pending', 0, now_ms, now_ms
      FROM fresh AS f ORDER BY f.id
      ON CONFLICT DO NOTHING
      RETURNING id, key, held_by),
    superseded AS (
      INSERT INTO job_events (job_id, at, kind, state, attempt, message, data)
      SELECT j.id, now_ms, 'superseded', j.state, j.attempt,
             'job ' || i.id || ' takes the new payload and runs after this one', '{"by":' || i.id || '}'
      FROM inserted AS i JOIN fresh AS f ON f.id = i.id
      JOIN jobs AS j ON j.key = i.key AND j.state IN ('pending', 'running', 'waiting') AND j.started_at IS NOT NULL
      WHERE i.key IS NOT NULL AND f.key_mode <> 'keep'),
    freed AS (
      INSERT INTO limit_freed (key) SELECT DISTINCT i.held_by FROM inserted AS i WHERE i.held_by IS NOT NULL)
    SELECT array_agg(COALESCE(k.id, r.id, i.id) ORDER BY p.ordinality) INTO ids
    FROM p
    LEFT JOIN kept AS k ON k.ordinality = p.ordinality
    LEFT JOIN replaced AS r ON r.ordinality = p.ordinality
    LEFT JOIN fresh AS f ON f.ordinality = p.ordinality
    LEFT JOIN inserted AS i ON i.id = f.id;
    FOR o IN 1 .. cardinality(ids) LOOP
      -- A producer that took no lock inserted the key first: this job goes the long way.
      RETURN NEXT COALESCE(ids[o], wfq_insert_job(parsed[o]));
    END LOOP;
  END IF;
  PERFORM pg_notify('wfq_jobs_' || current_schema(), q) FROM unnest(queues) AS q;
END $$;

-- The previous migration's, reading a simple job as enqueue_many does.
CREATE OR REPLACE FUNCTION enqueue(type text, payload jsonb DEFAULT '{}', options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE j jsonb; n wfq_new_job; job_id bigint;
BEGIN
  options := COALESCE(options, '{}');
  IF jsonb_typeof(options) <> 'object' THEN PERFORM wfq_bad_input('options must be a JSON object'); END IF;
  IF options ? 'type' OR options ? 'payload' THEN
    PERFORM wfq_bad_input('options must not hold ''type'' or ''payload'': they are enqueue''s first two arguments');
  END IF;
  j := options || jsonb_build_object('type', type, 'payload', payload);
  n := CASE WHEN wfq_simple_job(j) THEN wfq_simple_job_row(j) ELSE wfq_parse_job(j, '') END;
  job_id := wfq_insert_job(n);
  PERFORM wfq_wake_workers(n.queue);
  RETURN job_id;
END $$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['wfq_limit_key_label(text)', 'wfq_limits_field(jsonb,text)', 'wfq_sorted_limit_keys(text[],text)',
                           'wfq_parse_job(jsonb,text)', 'wfq_insert_job(wfq_new_job)', 'enqueue(text,jsonb,jsonb)',
                           'enqueue_many(jsonb)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
  -- Inlined into their callers, which fix the search path: a SET here would stop the inlining.
  FOREACH f IN ARRAY ARRAY['wfq_limit_keys(text[],text)', 'wfq_new_traceparent()', 'wfq_new_correlation_id()',
                           'wfq_simple_name(jsonb,integer)',
                           'wfq_simple_int(jsonb,integer,integer)', 'wfq_simple_job(jsonb)', 'wfq_simple_job_row(jsonb)'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

-- `wfq schedule add --key-mode`: what a tick does when a job with the schedule's key is pending.
ALTER TABLE schedules ADD COLUMN key_mode text NOT NULL DEFAULT 'keep';
