# Several real `wfq process` processes on one queue: every job runs exactly once; a worker
# killed with SIGKILL takes its handler with it and its job is rescued by another worker.
. "$(dirname "$0")/lib.sh"

N=${WFQ_TEST_JOBS:-2000}
python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'count', 'payload': {'i': i}}))" > "$TMP/jobs.ndjson"
"$WFQ" enqueue --ndjson "$TMP/jobs.ndjson" > /dev/null 2>&1
# Each handler appends its job id with O_APPEND (atomic for short writes).
workers=()
for w in 1 2 3 4; do
    "$WFQ" process --until-empty --concurrency 4 --poll 200ms --exec sh -c 'cat >/dev/null; echo "$WFQ_JOB_ID $WFQ_ATTEMPT" >> '"$TMP/runs" \
        2> "$TMP/worker$w.log" &
    workers+=($!)
done
for w in 1 2 3 4; do expect_wait 0 "${workers[$((w - 1))]}" "worker $w" "$TMP/worker$w.log"; done
runs=$(wc -l < "$TMP/runs")
unique=$(cut -d' ' -f1 < "$TMP/runs" | sort -u | wc -l)
[ "$runs" = "$N" ] || fail "$runs handler runs for $N jobs"
[ "$unique" = "$N" ] || fail "$unique distinct jobs ran"
grep -qv ' 1$' "$TMP/runs" && fail "a job needed a second attempt"
completed=$("$WFQ" jobs list --state completed --limit 100000 --json | jq_field "len(d)")
[ "$completed" = "$N" ] || fail "$completed completed in the database"
for w in 1 2 3 4; do grep -q "worker stopped" "$TMP/worker$w.log" || fail "worker $w did not stop cleanly"; done
pass "4 processes x $N jobs: each job ran exactly once"

id=$("$WFQ" enqueue victim '{}')
"$WFQ" process --type victim --lease 1s --rescue-interval 0 --exec sh -c 'echo $$ > '"$TMP/handler.pid"'; exec sleep 60' \
    2>/dev/null &
victim_worker=$!
wait_for 20 test -s "$TMP/handler.pid"
handler=$(cat "$TMP/handler.pid")
handler_start=$(proc_start "$handler")
[ -n "$handler_start" ] || fail "handler not running"
kill -KILL "$victim_worker"
expect_wait 137 "$victim_worker" "the SIGKILLed worker"
wait_for 10 gone "$handler" "$handler_start"
pass "a handler dies with its SIGKILLed worker"

# The rescuer inside another worker returns the job to pending once the lease (1s) expires.
timeout 60 "$WFQ" process --type victim --max-jobs 1 --rescue-interval 200ms --poll 100ms --exec sh -c 'cat >/dev/null; echo "{\"rescued\": $WFQ_ATTEMPT}"' \
    2> "$TMP/rescuer.log"
[ "$(job_field "$id" state)" = completed ] || fail "victim not completed"
[ "$(job_field "$id" attempt)" = 2 ] || fail "victim attempt not recorded"
"$WFQ" jobs show "$id" --json | jq_field "[e['kind'] for e in d['events']]" | grep "'rescued'" > /dev/null || fail "rescue not in the timeline"
contains "$(cat "$TMP/rescuer.log")" "rescued job"
pass "a SIGKILLed worker's job is rescued and completed by another worker, attempt 2"
