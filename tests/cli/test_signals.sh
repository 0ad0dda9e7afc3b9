# Graceful stop: SIGTERM lets running handlers finish; SIGINT after the grace period gives the
# job back without spending an attempt and exits 130.
. "$(dirname "$0")/lib.sh"

id=$("$WFQ" enqueue slowish '{}')
"$WFQ" process --grace 10s --exec sh -c 'touch '"$TMP/started"'; sleep 1; echo "{\"finished\": true}"' 2>/dev/null &
pid=$!
wait_for 20 test -e "$TMP/started"
expect_exit 0 "$WFQ" workers list --json
[ "$(echo "$OUT" | jq_field "[(w['pid'], w['alive']) for w in d]")" = "[($pid, True)]" ] || fail "workers list: $OUT"
kill -TERM "$pid"
expect_wait 0 "$pid" "the worker after SIGTERM"
[ "$(job_field "$id" state)" = completed ] || fail "the running job did not finish within the grace period"
[ "$("$WFQ" workers list --json)" = "[]" ] || fail "a stopped worker stays registered"
pass "workers list shows the live worker; SIGTERM: stop claiming, finish the running job, exit 0, deregister"

id=$("$WFQ" enqueue stuck '{}')
rm -f "$TMP/started"
"$WFQ" process --grace 200ms --exec sh -c 'touch '"$TMP/started"'; exec sleep 60' 2>/dev/null &
pid=$!
wait_for 20 test -e "$TMP/started"
kill -INT "$pid"
expect_wait 130 "$pid" "the worker after SIGINT"
[ "$(job_field "$id" state)" = pending ] || fail "job not given back"
[ "$(job_field "$id" attempt)" = 0 ] || fail "interrupted attempt was counted"
"$WFQ" jobs show "$id" --json | jq_field "[e['kind'] for e in d['events']]" | grep "'released'" > /dev/null || fail "release not in the timeline"
pass "SIGINT past the grace period: handler stopped, job back to pending, attempt not spent, exit 130"

# Overlapping cron-style runs never run a job twice.
for i in $(seq 1 40); do echo '{"type": "cron"}'; done | "$WFQ" enqueue --ndjson - >/dev/null 2>&1
runs=()
for r in 1 2 3; do
    "$WFQ" process --type cron --max-time 20s --until-empty --exec sh -c 'echo "$WFQ_JOB_ID" >> '"$TMP/cron"'' 2>/dev/null &
    runs+=($!)
done
for r in "${runs[@]}"; do expect_wait 0 "$r" "an overlapping cron run"; done
[ "$(wc -l < "$TMP/cron")" = 40 ] || fail "$(wc -l < "$TMP/cron") runs for 40 jobs"
[ "$(sort -u "$TMP/cron" | wc -l)" = 40 ] || fail "a job ran twice"
pass "three overlapping cron runs share 40 jobs without running any twice"
