# wfq process --retention: finished jobs (with their events) past the retention are deleted by
# the running workers in batches; pending and scheduled jobs are kept.
. "$(dirname "$0")/lib.sh"
python3 -c "
import json
for i in range(50): print(json.dumps({'type': 'short', 'payload': {'i': i}}))" | "$WFQ" enqueue --ndjson - > /dev/null
failing=$("$WFQ" enqueue short '{"fail": true}' --max-attempts 1)
later=$("$WFQ" enqueue later '{}' --delay 1h)
"$WFQ" process --type short --concurrency 4 --poll 100ms --retention 1s \
    --exec sh -c 'grep -q fail && exit 3; exit 0' 2> "$TMP/worker.log" &
worker=$!
count() { "$WFQ" jobs list --state "$1" --limit 1000 --json | jq_field 'len(d)'; }
wait_for 30 sh -c "[ \"\$(\"$WFQ\" jobs list --limit 1000 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1 ]"
kill -TERM "$worker"
wait "$worker" || fail "worker exited $? after SIGTERM"
[ "$(count completed)" = 0 ] || fail "completed jobs kept past the retention"
[ "$(count failed)" = 0 ] || fail "failed jobs kept past the retention"
[ "$(job_field "$later" state)" = pending ] || fail "a scheduled job was pruned"
expect_exit 4 "$WFQ" jobs show "$failing"
contains "$(cat "$TMP/worker.log")" "pruned finished jobs past --retention"
pass "--retention 1s: 51 finished jobs deleted by the running worker, the scheduled one kept"
expect_exit 2 "$WFQ" process --retention soon --exec true
pass "a malformed --retention exits 2"
