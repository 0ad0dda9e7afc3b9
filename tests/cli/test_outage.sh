# PostgreSQL faults: the server stopped for 10 s while workers run, and commits whose reply is
# lost (or whose connection is cut before COMMIT) on enqueue, complete, lock acquire and signal.
# wfq-test: postgresql-only
# wfq-test-serial: it stops the test cluster, which every other PostgreSQL test uses
. "$(dirname "$0")/lib.sh"
[ "$WFQ_TEST_BACKEND" = postgresql ] || { echo "SKIP: PostgreSQL only"; exit 77; }
sql() { psql -Atqc "SET search_path TO $WFQ_SCHEMA; $1"; }

# ---- commits in doubt (the test-only hook WFQ_TEST_FAULT, inert unless set) -------------------
for fault in commit_lost commit_cut; do
    expect_exit 0 env WFQ_TEST_FAULT=$fault:enqueue "$WFQ" enqueue indoubt_$fault '{}'
    id=$OUT
    [ "$(sql "SELECT count(*) FROM jobs WHERE type = 'indoubt_$fault'")" = 1 ] || fail "$fault on enqueue: not exactly one job"
    [ "$(sql "SELECT id FROM jobs WHERE type = 'indoubt_$fault'")" = "$id" ] || fail "$fault on enqueue: printed id $id is not the job's"

    id=$("$WFQ" enqueue complete_$fault '{}')
    expect_exit 0 env WFQ_TEST_FAULT=$fault:complete "$WFQ" process --type complete_$fault --max-jobs 1 --json --exec sh -c 'cat >/dev/null; echo "{\"n\": 1}"'
    [ "$(echo "$OUT" | jq_field "(d['completed'], d['lost'])")" = "(1, 0)" ] || fail "$fault on complete: $OUT $ERR"
    [ "$(job_field "$id" state)" = completed ] || fail "$fault on complete: job $(job_field "$id" state)"
    contains "$ERR" "job completed"
    case "$ERR" in *"not recorded"*) fail "$fault on complete: the worker reports a lost outcome: $ERR" ;; esac

    expect_exit 0 env WFQ_TEST_FAULT=$fault:lock_acquire "$WFQ" lock acquire "doubt-$fault" --ttl 1m
    token=$OUT
    [ "$(sql "SELECT token FROM locks WHERE key = 'doubt-$fault'")" = "$token" ] || fail "$fault on lock acquire: held by another token than the one printed"
    expect_exit 0 "$WFQ" lock release "doubt-$fault" --token "$token"

    expect_exit 0 env WFQ_TEST_FAULT=$fault:signal "$WFQ" signal approved --key "doubt-$fault" --data '{"by": "bob"}'
    [ "$(sql "SELECT count(*) FROM signals WHERE key = 'doubt-$fault'")" = 1 ] || fail "$fault on signal: not exactly one stored signal"
done
pass "a commit whose reply is lost, or whose connection is cut before COMMIT, on enqueue, complete, lock acquire and signal: no duplicate, no orphan, the caller told the truth"

# ---- a 10 s outage while 2 workers run 3,000 jobs ---------------------------------------------
cluster=$(pg_lsclusters -h | awk -v p="$PGPORT" '$3 == p { print $1 " " $2 }')
# The server outlives this test: it must not inherit the test runner's descriptors (ctest's output
# pipes, a lock a build script holds), or it would hold them until it stops.
start_cluster() (
    for fd in /proc/self/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2> /dev/null
    exec pg_ctlcluster $cluster start
)
[ -n "$cluster" ] || fail "cannot find the test cluster on port $PGPORT"
N=3000
python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'outage', 'payload': {'i': i}}))" | "$WFQ" enqueue --ndjson - > /dev/null
for w in 1 2; do
    "$WFQ" process --type outage --until-empty --concurrency 4 --poll 200ms --exec sh -c 'cat >/dev/null; sleep 0.01; echo "$WFQ_JOB_ID" >> '"$TMP/runs" \
        2> "$TMP/worker$w.log" &
    workers[$w]=$!
done
wait_for 60 sh -c "[ \$(wc -l < $TMP/runs 2>/dev/null || echo 0) -ge 300 ]"
pg_ctlcluster $cluster stop -m fast
before=$(wc -l < "$TMP/runs")
sleep 10  # the outage itself
start_cluster
for w in 1 2; do wait "${workers[$w]}" || fail "worker $w exited $? across the outage: $(tail -5 "$TMP/worker$w.log")"; done
[ "$(sql "SELECT count(*) FROM jobs WHERE type = 'outage' AND state = 'completed'")" = "$N" ] \
    || fail "not every job completed: $(sql "SELECT state, count(*) FROM jobs WHERE type = 'outage' GROUP BY state")"
[ "$(sql "SELECT count(*) FROM jobs WHERE state = 'running'")" = 0 ] || fail "jobs left running"
for w in 1 2; do
    [ "$(grep -c 'database unavailable; riding out the outage' "$TMP/worker$w.log")" -ge 1 ] || fail "worker $w did not log the outage"
    [ "$(grep -c 'database back; outage over' "$TMP/worker$w.log")" -ge 1 ] || fail "worker $w did not log the end of the outage"
done
echo "handler runs before the stop: $before, in all: $(wc -l < "$TMP/runs")"
pass "PostgreSQL stopped for 10 s while 2 workers ran $N jobs: both rode it out and exited 0, every job completed, none left running"

# ---- an outage longer than --max-outage ends the worker with 69 --------------------------------
"$WFQ" enqueue slow '{}' > /dev/null
"$WFQ" process --type slow --max-outage 2s --poll 100ms --exec sh -c 'cat >/dev/null; sleep 30' 2> "$TMP/short.log" &
short=$!
wait_for 20 sh -c "[ \"\$(psql -Atqc \"SELECT count(*) FROM $WFQ_SCHEMA.jobs WHERE type = 'slow' AND state = 'running'\")\" = 1 ]"
pg_ctlcluster $cluster stop -m fast
set +e; wait "$short"; status=$?; set -e
start_cluster
[ "$status" = 69 ] || fail "an outage past --max-outage: exit $status, not 69: $(tail -3 "$TMP/short.log")"
contains "$(cat "$TMP/short.log")" "longer than --max-outage"
pass "an outage longer than --max-outage ends the worker with exit 69"
