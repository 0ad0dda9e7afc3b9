# Clocks that disagree: a worker whose clock is 10 minutes ahead and one 10 minutes behind
# (libfaketime) change nothing on PostgreSQL, where leases, rescue, locks and backoff are judged
# by the database's clock.
# wfq-test: postgresql-only
. "$(dirname "$0")/lib.sh"
command -v faketime > /dev/null || { echo "SKIP: faketime is not installed (scripts/install-deps.sh)"; exit 77; }
export FAKETIME_DONT_FAKE_MONOTONIC=1  # only the wall clock is skewed, as on a badly synced host
ahead() { faketime -f '+10m' "$@"; }
behind() { faketime -f '-10m' "$@"; }
[ "$(ahead date +%s)" -gt $(( $(date +%s) + 500 )) ] || fail "faketime does not move the clock here"

# Jobs, short leases and eager rescuers on both skewed workers: nothing is rescued, every job
# completes once.
N=300
python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'skew', 'payload': {'i': i}}))" | "$WFQ" enqueue --ndjson - > /dev/null
ahead "$WFQ" process --type skew --until-empty --concurrency 4 --lease 2s --rescue-interval 200ms --poll 100ms \
    --exec sh -c 'cat >/dev/null; sleep 0.05; echo "$WFQ_JOB_ID" >> '"$TMP/runs" 2> "$TMP/ahead.log" &
w1=$!
behind "$WFQ" process --type skew --until-empty --concurrency 4 --lease 2s --rescue-interval 200ms --poll 100ms \
    --exec sh -c 'cat >/dev/null; sleep 0.05; echo "$WFQ_JOB_ID" >> '"$TMP/runs" 2> "$TMP/behind.log" &
w2=$!
wait "$w1" || fail "the worker 10 minutes ahead exited $?: $(tail -3 "$TMP/ahead.log")"
wait "$w2" || fail "the worker 10 minutes behind exited $?: $(tail -3 "$TMP/behind.log")"
[ "$(sort -u "$TMP/runs" | wc -l)" = "$N" ] && [ "$(wc -l < "$TMP/runs")" = "$N" ] || fail "jobs did not run exactly once each"
grep -q "rescued job" "$TMP/ahead.log" "$TMP/behind.log" && fail "a live job was rescued by a skewed worker"
[ "$(psql -Atqc "SELECT count(*) FROM $WFQ_SCHEMA.job_events WHERE kind = 'rescued'")" = 0 ] || fail "rescued events"
pass "2 workers 10 minutes ahead and behind, 2 s leases, rescuers every 200 ms: $N jobs, each once, none rescued"

# Locks: a lease taken by a process 10 minutes ahead lasts its TTL by the database's clock.
expect_exit 0 ahead "$WFQ" lock acquire skew-lock --ttl 30s
token=$OUT
expect_exit 3 behind "$WFQ" lock acquire skew-lock --ttl 30s
expect_exit 3 "$WFQ" lock acquire skew-lock --ttl 30s
expect_exit 0 behind "$WFQ" lock release skew-lock --token "$token"
pass "a lease lock taken 10 minutes ahead is held for its TTL by the database's clock"

# Backoff and schedules of retries: a failure recorded by the worker ahead is due after its
# backoff by the database's clock, so the worker behind runs it within seconds, not 20 minutes.
id=$("$WFQ" enqueue flaky '{}')
ahead "$WFQ" process --type flaky --max-jobs 1 --retry-preset FAST --exec sh -c 'cat >/dev/null; exit 3' 2>/dev/null
[ "$(job_field "$id" state)" = pending ] || fail "the first attempt did not schedule a retry"
timeout 30 faketime -f '-10m' "$WFQ" process --type flaky --max-jobs 1 --poll 100ms --exec sh -c 'cat >/dev/null' 2>/dev/null \
    || fail "the retry was not run within 30 s by the worker 10 minutes behind"
[ "$(job_field "$id" state)" = completed ] || fail "retry not completed"
[ "$(job_field "$id" attempt)" = 2 ] || fail "retry attempt"
pass "a retry scheduled by a worker 10 minutes ahead is due after its backoff for a worker 10 minutes behind"
