#!/bin/bash
# The claim's plans at 100,000 held-back jobs of one limit key (flow control), on both backends:
# `bench/explain_limits.sh sqlite` or `bench/explain_limits.sh postgresql` (with a server in the
# PG* variables). Enqueues 100,000 jobs of one key capped at 1 and 100 without a key, runs one
# claim so the key's first job is admitted and running, then EXPLAINs the fast claim statement
# (the one every claim runs), the admission's look at its keys' first held-back jobs, and their
# slot counts, as the store runs them. Then group turns: 100,000 held-back jobs, 100,000 grouped jobs
# not yet due and a backlog of 100,000 due jobs of one group (and 100 of another), and the fast
# claim's plan over them (it must read its batch from the index, whatever the backlogs; with
# ANALYZE on PostgreSQL). Uses the release build.
set -euo pipefail
backend=${1:-sqlite}
. "$(dirname "$0")/lib.sh"
fresh explain_limits
"$WFQ" limits set hot --concurrency 1
python3 -c "
import json
for i in range(100000): print(json.dumps({'type': 'b', 'limits': ['hot'], 'payload': {}}))
for i in range(100): print(json.dumps({'type': 'b', 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
"$WFQ" process --max-jobs 1 --exec sleep 600 > /dev/null 2>&1 &
worker=$!
until "$WFQ" jobs list --state running --json | grep -q '"id"'; do sleep 0.1; done
kill -KILL "$worker" 2>/dev/null || true
wait "$worker" 2>/dev/null || true
key="(CASE WHEN c.run_at < 9000000000000 THEN c.run_at ELSE 9000000000000 END * 1000000 + c.turn_lag)"
fast="WITH picked AS MATERIALIZED (SELECT c.id, c.limit_keys FROM jobs c WHERE c.queue = 'default' AND NOT EXISTS
  (SELECT 1 FROM queue_pauses qp WHERE qp.queue = 'default') AND c.state = 'pending' AND c.held = 0 AND
  c.run_at <= wfq_now_ms() AND $key <= wfq_now_ms() * 1000000 ORDER BY c.priority DESC, $key, c.id LIMIT 10 LOCK)
UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = 'w', lease_expires_at = wfq_now_ms() + 30000,
  started_at = wfq_now_ms(), updated_at = wfq_now_ms() WHERE id IN (SELECT id FROM picked WHERE limit_keys IS NULL)
RETURNING id"
# Admission (store/sql/limits.cpp admit_held): the first due held-back job of every key it looks
# at, in one statement, here for keys 'hot' and 'cold' (no jobs), and their slots in one.
if [ "$backend" = postgresql ]; then
    keys="jsonb_to_recordset('[{\"key\": \"hot\"}, {\"key\": \"cold\"}]'::jsonb) AS u(key text)"
else
    keys="(SELECT json_extract(value, '\$.key') AS key FROM json_each('[{\"key\": \"hot\"}, {\"key\": \"cold\"}]') LIMIT -1) AS u"
fi
head="SELECT h.held_by, h.id, h.limit_keys, h.lock_key FROM jobs h WHERE h.id IN (SELECT (SELECT j.id FROM jobs j
  WHERE j.state = 'pending' AND j.held = 1 AND j.held_by = u.key AND j.run_at <= wfq_now_ms()
  ORDER BY j.priority DESC, j.id LIMIT 1) FROM $keys)"
slots="SELECT l.key, COUNT(*) FROM job_limits l WHERE l.key IN (SELECT u.key FROM $keys) GROUP BY l.key"
echo "held back: $("$WFQ" limits list --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['held'])") jobs of key 'hot'"
if [ "$backend" = postgresql ]; then
    psql -XAtqc "ANALYZE \"$WFQ_SCHEMA\".jobs"
    for q in "${fast/LOCK/FOR UPDATE SKIP LOCKED}" "$head" "$slots"; do
        echo "--- $q"
        PGOPTIONS="-c search_path=$WFQ_SCHEMA" psql -XAtq -c "BEGIN" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $q" -c "ROLLBACK"
    done
else
    db=${WFQ_DB#sqlite:}
    for q in "${fast/ LOCK/}" "$head" "$slots"; do
        echo "--- $q"
        # wfq_now_ms() is wfq's own function; the plan does not depend on its value.
        sqlite3 "$db" "EXPLAIN QUERY PLAN ${q//wfq_now_ms()/9999999999999}"
    done
fi

# ---- group turns ----
fresh explain_groups
"$WFQ" limits set hot --concurrency 0
python3 -c "
import json
for i in range(100000): print(json.dumps({'type': 'b', 'limits': ['hot'], 'org': 'held'}))
for i in range(100000): print(json.dumps({'type': 'b', 'org': 'later', 'delay': '1h'}))
for i in range(100000): print(json.dumps({'type': 'b', 'org': 'big'}))
for i in range(100): print(json.dumps({'type': 'b', 'org': 'small'}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
"$WFQ" process --max-jobs 1 --exec true > /dev/null 2>&1  # admission runs: 'hot' admits none
echo "groups: 100,000 held back, 100,000 grouped not yet due, 100,000 due of group 'big', 100 of 'small'"
if [ "$backend" = postgresql ]; then
    psql -XAtqc "ANALYZE \"$WFQ_SCHEMA\".jobs"
    q="${fast/LOCK/FOR UPDATE SKIP LOCKED}"
    echo "--- $q"
    PGOPTIONS="-c search_path=$WFQ_SCHEMA" psql -XAtq -c "BEGIN" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $q" -c "ROLLBACK"
else
    q="${fast/ LOCK/}"
    echo "--- $q"
    sqlite3 "${WFQ_DB#sqlite:}" "EXPLAIN QUERY PLAN ${q//wfq_now_ms()/9999999999999}"
fi
