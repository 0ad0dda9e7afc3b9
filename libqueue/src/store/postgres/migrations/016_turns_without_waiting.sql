-- name: the SQL API's group turns without waiting: enqueue() never waits for another transaction
-- Migration 15's wfq_assign_turns locked each group's job_group_turns row until the caller
-- committed, so an application holding its transaction open around enqueue() held up every
-- other producer of that group, and two applications enqueueing for the same two groups in
-- opposite orders (one enqueue() per group in one transaction) deadlocked. Now the rows of new
-- groups are created, the rows no other transaction holds are locked without waiting (SKIP
-- LOCKED) and their tails move; a group whose row another transaction holds is read as last
-- committed, plus what this transaction gave it already (kept in the transaction-local setting
-- wfq.turn_tails, so one transaction's jobs keep their order; it is transaction-local, so it
-- works behind PgBouncer in transaction mode). Jobs of two transactions in flight at once may
-- share turns. The one wait left: two transactions creating the same group's row at once (its
-- very first jobs in that queue and priority). The CLI (SqlStore::assign_turns, turns.cpp) still
-- waits for the row: its NDJSON batches, written on two connections at once, keep their order so.
CREATE OR REPLACE FUNCTION wfq_assign_turns(jobs wfq_new_job[]) RETURNS wfq_new_job[] LANGUAGE plpgsql AS $$
DECLARE
  now_ms constant bigint := wfq_now_ms();
  g record; n wfq_new_job; i integer; run_ns bigint; k bigint; stride bigint; hd bigint; tl bigint;
  gk text; hk text; heads jsonb := '{}'; tails jsonb := '{}'; mine jsonb := '{}'; weights jsonb := '{}'; moved jsonb := '{}';
  own jsonb := COALESCE(NULLIF(current_setting('wfq.turn_tails', true), '')::jsonb, '{}');
BEGIN
  FOR g IN SELECT DISTINCT x.queue COLLATE "C" AS queue, x.priority, x.grp COLLATE "C" AS grp
           FROM unnest(jobs) AS x WHERE x.grp IS NOT NULL ORDER BY 1, 2, 3 LOOP
    gk := g.queue || E'\x1f' || g.priority || E'\x1f' || g.grp;
    -- Locked without waiting; else read as committed (another transaction holds it); else new.
    -- (An INSERT ... ON CONFLICT would wait for a transaction that moved the row's tail.)
    SELECT t.tail INTO tl FROM job_group_turns AS t WHERE t.queue = g.queue AND t.priority = g.priority AND t.grp = g.grp
      FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
      mine := mine || jsonb_build_object(gk, true);
    ELSE
      SELECT t.tail INTO tl FROM job_group_turns AS t WHERE t.queue = g.queue AND t.priority = g.priority AND t.grp = g.grp;
      IF NOT FOUND THEN
        INSERT INTO job_group_turns (queue, priority, grp) VALUES (g.queue, g.priority, g.grp)
          ON CONFLICT (queue, priority, grp) DO NOTHING;
        SELECT t.tail INTO tl FROM job_group_turns AS t WHERE t.queue = g.queue AND t.priority = g.priority AND t.grp = g.grp
          FOR UPDATE SKIP LOCKED;
        IF FOUND THEN mine := mine || jsonb_build_object(gk, true); END IF;
      END IF;
    END IF;
    tl := greatest(tl, (own ->> gk)::bigint);
    tails := tails || jsonb_build_object(gk, tl);
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
      own := own || jsonb_build_object(gk, k);
      IF mine ? gk THEN moved := moved || jsonb_build_object(gk, jsonb_build_array(n.queue, n.priority, n.grp, k)); END IF;
    ELSE
      k := CASE WHEN tl IS NULL THEN run_ns ELSE greatest(run_ns, tl + stride) END;
    END IF;
    n.turn_lag := k - run_ns;
    jobs[i] := n;
  END LOOP;
  UPDATE job_group_turns AS t SET tail = (m.value ->> 3)::bigint FROM jsonb_each(moved) AS m
    WHERE t.queue = m.value ->> 0 AND t.priority = (m.value ->> 1)::integer AND t.grp = m.value ->> 2;
  IF own <> '{}' THEN PERFORM set_config('wfq.turn_tails', own::text, true); END IF;
  RETURN jobs;
END $$;

DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION wfq_assign_turns(wfq_new_job[]) SET search_path = %I, pg_temp', current_schema());
  REVOKE ALL ON FUNCTION wfq_assign_turns(wfq_new_job[]) FROM PUBLIC;
END $$;
