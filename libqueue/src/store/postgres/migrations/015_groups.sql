-- name: group turns: a job's group, its place in its group's turns, the claim index on the turn key
-- Flow control's groups (DESIGN.md "Flow control"; store/sql/turns.cpp explains the turns). grp is
-- the job's group (NULL: none); turn_lag its place in its group's turns, in ns after its run_at
-- (0 for a job without a group: its order stays its run_at); job_group_turns each group's last
-- turn key per queue and priority, locked by a producer until it commits.
ALTER TABLE jobs ADD COLUMN grp text;
ALTER TABLE jobs ADD COLUMN turn_lag bigint NOT NULL DEFAULT 0;
CREATE TABLE job_group_turns (
  queue text NOT NULL,
  priority integer NOT NULL,
  grp text NOT NULL,
  tail bigint,
  PRIMARY KEY (queue, priority, grp));
-- The claim orders a priority's jobs by the turn key, turn_key() in store/sql/sql_text.cpp word
-- for word: run_at in ns (capped past the year 2255, where ns overflow) plus turn_lag. Jobs not
-- yet due have keys after now, so a claim reads the keys up to now of a priority and no more.
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (queue, held, priority DESC, (CASE WHEN run_at < 9000000000000 THEN run_at ELSE 9000000000000 END * 1000000 + turn_lag), id) WHERE state = 'pending';

-- The SQL API (wfq-sql(7)) takes "group" as NDJSON lines do; api_version() stays 1 (a new
-- option field). Its turns are set as SqlStore::assign_turns sets them (turns.cpp).
ALTER TYPE wfq_new_job ADD ATTRIBUTE grp text;
ALTER TYPE wfq_new_job ADD ATTRIBUTE turn_lag bigint;

-- group_weight() in libqueue/src/limits.cpp: the weight of the rule for key 'group:' || g (exact,
-- then the longest prefix), 1 without one or when it sets none.
CREATE FUNCTION wfq_group_weight(g text) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT COALESCE((SELECT greatest(1, r.weight) FROM limit_rules AS r
                   WHERE r.pattern = 'group:' || g
                      OR (right(r.pattern, 1) = '*' AND starts_with('group:' || g, left(r.pattern, -1)))
                   ORDER BY r.pattern = 'group:' || g DESC, octet_length(r.pattern) DESC LIMIT 1), 1)
$$;

-- SqlStore::assign_turns: each grouped job's run_at (now + delay when not given) and turn_lag.
-- The groups' rows are created or locked first, in the store's order (queue, priority, group,
-- bytewise), so the CLI and the SQL API never wait on each other in a cycle.
CREATE FUNCTION wfq_assign_turns(jobs wfq_new_job[]) RETURNS wfq_new_job[] LANGUAGE plpgsql AS $$
DECLARE
  now_ms constant bigint := wfq_now_ms();
  g record; n wfq_new_job; i integer; run_ns bigint; k bigint; stride bigint; hd bigint; tl bigint;
  gk text; hk text; heads jsonb := '{}'; tails jsonb := '{}'; weights jsonb := '{}'; moved jsonb := '{}';
BEGIN
  FOR g IN SELECT DISTINCT x.queue COLLATE "C" AS queue, x.priority, x.grp COLLATE "C" AS grp
           FROM unnest(jobs) AS x WHERE x.grp IS NOT NULL ORDER BY 1, 2, 3 LOOP
    INSERT INTO job_group_turns AS t (queue, priority, grp) VALUES (g.queue, g.priority, g.grp)
      ON CONFLICT (queue, priority, grp) DO UPDATE SET tail = t.tail RETURNING t.tail INTO tl;
    tails := tails || jsonb_build_object(g.queue || E'\x1f' || g.priority || E'\x1f' || g.grp, tl);
  END LOOP;
  FOR i IN 1 .. cardinality(jobs) LOOP
    n := jobs[i];
    CONTINUE WHEN n.grp IS NULL;
    n.run_at := COALESCE(n.run_at, now_ms + n.delay_ms);
    run_ns := least(n.run_at, 9000000000000) * 1000000;
    IF NOT weights ? n.grp THEN weights := weights || jsonb_build_object(n.grp, wfq_group_weight(n.grp)); END IF;
    stride := greatest(1, 1000 / (weights ->> n.grp)::integer);
    gk := n.queue || E'\x1f' || n.priority || E'\x1f' || n.grp;
    tl := (tails ->> gk)::bigint;
    IF n.run_at <= now_ms THEN
      hk := n.queue || E'\x1f' || n.priority;
      IF NOT heads ? hk THEN
        heads := heads || jsonb_build_object(hk, (SELECT (CASE WHEN run_at < 9000000000000 THEN run_at ELSE 9000000000000 END * 1000000 + turn_lag) FROM jobs
                                                   WHERE state = 'pending' AND queue = n.queue AND held = 0 AND priority = n.priority
                                                   ORDER BY (CASE WHEN run_at < 9000000000000 THEN run_at ELSE 9000000000000 END * 1000000 + turn_lag) LIMIT 1));
      END IF;
      hd := (heads ->> hk)::bigint;
      k := CASE WHEN hd IS NULL THEN run_ns ELSE least(run_ns, hd) END;
      IF tl IS NOT NULL THEN k := greatest(k, tl + stride); END IF;
      tails := tails || jsonb_build_object(gk, k);
      moved := moved || jsonb_build_object(gk, jsonb_build_array(n.queue, n.priority, n.grp, k));
    ELSE
      k := CASE WHEN tl IS NULL THEN run_ns ELSE greatest(run_ns, tl + stride) END;
    END IF;
    n.turn_lag := k - run_ns;
    jobs[i] := n;
  END LOOP;
  UPDATE job_group_turns AS t SET tail = (m.value ->> 3)::bigint FROM jsonb_each(moved) AS m
    WHERE t.queue = m.value ->> 0 AND t.priority = (m.value ->> 1)::integer AND t.grp = m.value ->> 2;
  RETURN jobs;
END $$;

-- As migration 12's, reading "group" (after limits, as parse_job_line) and defaulting it to the org.
CREATE OR REPLACE FUNCTION wfq_parse_job(j jsonb, at text) RETURNS wfq_new_job LANGUAGE plpgsql AS $$
DECLARE
  n wfq_new_job; k text; v text; i numeric; problem text;
BEGIN
  IF j IS NULL OR jsonb_typeof(j) <> 'object' THEN PERFORM wfq_bad_input(at || 'each job must be a JSON object'); END IF;
  FOR k IN SELECT jsonb_object_keys(j) LOOP
    IF k <> ALL (ARRAY['type', 'payload', 'queue', 'priority', 'run_at', 'delay', 'max_attempts', 'key', 'lock_key',
                       'limits', 'group', 'org', 'repo', 'correlation_id', 'traceparent', 'tracestate', 'key_mode']) THEN
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
  n.grp := wfq_str_field(j, 'group', at);
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
  -- The group: the org by default (an org longer than a group may be gives none).
  IF n.grp IS NOT NULL THEN
    problem := wfq_name_problem(n.grp, 200);
    IF problem IS NOT NULL THEN PERFORM wfq_bad_input(at || 'group ' || problem); END IF;
  ELSIF octet_length(n.org) <= 200 THEN
    n.grp := n.org;
  END IF;
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

-- As migration 12's, writing grp and turn_lag (a replaced job takes its new place too).
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
                      turn_lag = CASE WHEN n.key_mode = 'replace' THEN COALESCE(n.turn_lag, 0) ELSE turn_lag END,
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
                      traceparent, tracestate, limit_keys, held, held_by, grp, turn_lag, state, attempt, created_at, updated_at)
      VALUES (n.type, n.queue, n.payload, n.priority, COALESCE(n.run_at, wfq_now_ms() + n.delay_ms), n.max_attempts,
              n.key, n.lock_key, n.org, n.repo, n.correlation_id, n.traceparent, n.tracestate, array_to_json(keys)::text,
              (keys IS NOT NULL)::int, keys[1], n.grp, COALESCE(n.turn_lag, 0), 'pending', 0, wfq_now_ms(), wfq_now_ms())
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

-- As migration 12's, with the group (the org, when it fits) and no lag yet.
CREATE OR REPLACE FUNCTION wfq_simple_job_row(e jsonb) RETURNS wfq_new_job LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN NOT e ?| '{queue,priority,max_attempts,delay,key,key_mode,lock_key,org,repo,correlation_id}'::text[] THEN
    ROW(e ->> 'type', 'default', COALESCE(e -> 'payload', '{}'), 0, NULL::bigint, 0::bigint, 3, NULL::text, 'keep', NULL::text,
        NULL::text, NULL::text, wfq_new_correlation_id(), wfq_new_traceparent(), NULL::text, NULL::text[], NULL::text,
        0::bigint)::wfq_new_job
  ELSE ROW(e ->> 'type', COALESCE(e ->> 'queue', 'default'), COALESCE(e -> 'payload', '{}'),
             COALESCE((e ->> 'priority')::int, 0), NULL::bigint,
             CASE WHEN e ->> 'delay' IS NULL OR e ->> 'delay' = '0' THEN 0
                  ELSE substring(e ->> 'delay' FROM '^[0-9]+')::bigint
                       * CASE substring(e ->> 'delay' FROM '[a-z]+$') WHEN 'ms' THEN 1 WHEN 's' THEN 1000
                              WHEN 'm' THEN 60000 WHEN 'h' THEN 3600000 ELSE 86400000 END END,
             COALESCE((e ->> 'max_attempts')::int, 3), e ->> 'key', COALESCE(replace(e ->> 'key_mode', '_', '-'), 'keep'),
             e ->> 'lock_key', e ->> 'org', e ->> 'repo',
             COALESCE(NULLIF(e ->> 'correlation_id', ''), wfq_new_correlation_id()), wfq_new_traceparent(), NULL::text,
             NULL::text[], CASE WHEN octet_length(e ->> 'org') <= 200 THEN e ->> 'org' END, 0::bigint)::wfq_new_job END
$$;

-- As migration 12's, with the groups' turns set before any key is locked (the store's order too).
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
  IF EXISTS (SELECT 1 FROM unnest(parsed) AS p WHERE p.grp IS NOT NULL) THEN parsed := wfq_assign_turns(parsed); END IF;
  IF keys = 0 THEN
    RETURN QUERY
      WITH inserted AS (
        INSERT INTO jobs (type, queue, payload, priority, run_at, max_attempts, lock_key, org, repo, correlation_id,
                          traceparent, tracestate, limit_keys, held, held_by, grp, turn_lag, state, attempt, created_at,
                          updated_at)
        SELECT p.type, p.queue, p.payload, p.priority, COALESCE(p.run_at, now_ms + p.delay_ms), p.max_attempts,
               p.lock_key, p.org, p.repo, p.correlation_id, p.traceparent, p.tracestate, array_to_json(lk.keys)::text,
               (lk.keys IS NOT NULL)::int, lk.keys[1], p.grp, COALESCE(p.turn_lag, 0), 'pending', 0, now_ms, now_ms
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
                           turn_lag = CASE WHEN p.key_mode = 'replace' THEN COALESCE(p.turn_lag, 0) ELSE j.turn_lag END,
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
                        correlation_id, traceparent, tracestate, limit_keys, held, held_by, grp, turn_lag, state,
                        attempt, created_at, updated_at)
      SELECT f.id, f.type, f.queue, f.payload, f.priority, COALESCE(f.run_at, now_ms + f.delay_ms), f.max_attempts,
             f.key, f.lock_key, f.org, f.repo, f.correlation_id, f.traceparent, f.tracestate, f.limit_keys, f.held,
             f.held_by, f.grp, COALESCE(f.turn_lag, 0), 'pending', 0, now_ms, now_ms
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

-- As migration 12's, with the job's turn.
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
  IF n.grp IS NOT NULL THEN n := (wfq_assign_turns(ARRAY[n]))[1]; END IF;
  job_id := wfq_insert_job(n);
  PERFORM wfq_wake_workers(n.queue);
  RETURN job_id;
END $$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['wfq_group_weight(text)', 'wfq_assign_turns(wfq_new_job[])', 'wfq_parse_job(jsonb,text)',
                           'wfq_insert_job(wfq_new_job)', 'enqueue(text,jsonb,jsonb)', 'enqueue_many(jsonb)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
  EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', 'wfq_simple_job_row(jsonb)');
END $$;
