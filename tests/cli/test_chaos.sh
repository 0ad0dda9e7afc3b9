# Faults as they happen in production, on several real processes: workers SIGKILLed and
# restarted while 3,000 jobs run; a rescuer racing a live job's lease renewals on a loaded machine.
. "$(dirname "$0")/lib.sh"

N=${WFQ_TEST_JOBS:-3000}
python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'chaos', 'payload': {'i': i}}))" > "$TMP/jobs.ndjson"
"$WFQ" enqueue --ndjson "$TMP/jobs.ndjson" > /dev/null 2>&1
# The handler logs "id attempt" once it has done its work (O_APPEND: atomic for short lines).
handler=(sh -c 'cat >/dev/null; echo "$WFQ_JOB_ID $WFQ_ATTEMPT" >> '"$TMP/runs")
start_worker() {  # start_worker SLOT: each start logs to its own file
    starts[$1]=$(( ${starts[$1]:-0} + 1 ))
    "$WFQ" process --concurrency 4 --lease 2s --rescue-interval 500ms --poll 100ms --exec "${handler[@]}" \
        2> "$TMP/worker$1.${starts[$1]}.log" &
    pids[$1]=$!
}
# A worker handles SIGTERM once it has started (its log says "worker started"); before that the
# signal ends it at once, with status 143, as it would any process. (A start SIGKILLed before it
# logged that never will, so only the slot's latest start is asked.)
started() { grep -q 'worker started' "$TMP/worker$1.${starts[$1]}.log"; }
declare -a pids starts
for w in 0 1 2 3; do start_worker $w; done
# Every second for 12 s, a random worker is SIGKILLed (mid-batch, mid-handler) and restarted.
seed=${WFQ_TEST_SEED:-$$}
echo "chaos seed $seed"
RANDOM=$seed
for round in $(seq 1 12); do
    sleep 1
    victim=$(( RANDOM % 4 ))
    kill -KILL "${pids[$victim]}"
    wait "${pids[$victim]}" && fail "a SIGKILLed worker exited 0" || [ $? = 137 ] || fail "SIGKILLed worker: unexpected status"
    start_worker $victim
done
# Drain: the workers keep running until every job is finished, then stop on SIGTERM.
drained() { [ "$("$WFQ" jobs list --state pending --state running --limit 1 --json | jq_field 'len(d)')" = 0 ]; }
wait_for 300 drained  # generous: under the asan preset and a loaded machine the drain is slow
for w in 0 1 2 3; do wait_for 60 started $w; done  # the last restart may still be starting
for w in 0 1 2 3; do kill -TERM "${pids[$w]}"; done
for w in 0 1 2 3; do wait "${pids[$w]}" || fail "worker $w exited $? after SIGTERM"; done

"$WFQ" jobs list --state completed --limit 100000 --json > "$TMP/completed.json"
python3 - "$TMP/completed.json" "$TMP/runs" "$N" <<'PY' || fail "chaos invariants (see above)"
import json, sys
jobs = json.load(open(sys.argv[1])); n = int(sys.argv[3])
runs = {}
for line in open(sys.argv[2]):
    i, a = line.split(); runs.setdefault(int(i), []).append(int(a))
assert len(jobs) == n, f"{len(jobs)} of {n} jobs completed"
for j in jobs:
    # The attempt that completed the job did run its handler to the end, once.
    assert runs.get(j["id"], []).count(j["attempt"]) == 1, f"job {j['id']}: attempt {j['attempt']} ran {runs.get(j['id'])}"
print("completed", len(jobs), "; handler runs", sum(len(v) for v in runs.values()),
      "; jobs run more than once (killed mid-run, rescued):", sum(1 for v in runs.values() if len(v) > 1))
PY
left=$("$WFQ" jobs list --state running --state pending --state failed --limit 10 --json | jq_field 'len(d)')
[ "$left" = 0 ] || fail "$left jobs left running, pending or failed"
pass "4 workers x $N jobs, one SIGKILLed and restarted every second for 12 s: every job completed once, none lost or left running"

# Rescue race: a 5 s handler under --lease 1s, while another worker rescues every 100 ms and
# both cores are busy. The lease keeper renews in time (its own connection), and rescue
# re-checks expiry in the statement that moves the job: the job runs once, attempt 1.
id=$("$WFQ" enqueue race '{}')
for i in 1 2; do (while :; do :; done) & loaders[$i]=$!; done
"$WFQ" process --type race --max-jobs 1 --lease 1s --rescue-interval 0 --poll 100ms \
    --exec sh -c 'cat >/dev/null; echo run >> '"$TMP/race"'; sleep 5' 2> "$TMP/race-worker.log" &
racer=$!
"$WFQ" process --type nothing --rescue-interval 100ms --poll 100ms --max-time 7s --exec true 2> "$TMP/rescuer.log" &
rescuer=$!
wait "$racer" || fail "the racing worker exited $?: $(cat "$TMP/race-worker.log")"
wait "$rescuer" || fail "the rescuer exited $?"
for i in 1 2; do kill "${loaders[$i]}"; wait "${loaders[$i]}" 2>/dev/null || true; done
[ "$(wc -l < "$TMP/race")" = 1 ] || fail "the job ran $(wc -l < "$TMP/race") times"
[ "$(job_field "$id" state)" = completed ] || fail "race job: $("$WFQ" jobs show "$id")"
[ "$(job_field "$id" attempt)" = 1 ] || fail "race job attempt $(job_field "$id" attempt)"
grep -q "rescued job" "$TMP/rescuer.log" && fail "a live job was rescued"
pass "a 5 s job under a 1 s lease, a rescuer every 100 ms, both cores loaded: it ran once, attempt 1"
