# Pipelines: workflow files, checkpoints (delta + gzip), resume after a crash or a retry without
# re-running stages, waits and signals (also a signal that comes first), deadlines, corrupt state.
. "$(dirname "$0")/lib.sh"
sql() {
    if [ "$WFQ_TEST_BACKEND" = postgresql ]; then psql -Atqc "SET search_path TO $WFQ_SCHEMA; $1"
    else sqlite3 "${WFQ_DB#sqlite:}" "$1"; fi
}
stage() {  # stage NAME PYTHON-STATEMENTS-ON-d [SHELL-PREFIX]: a stage command that logs its run
    printf '["sh", "-c", "%s echo %s $WFQ_JOB_ID $WFQ_ATTEMPT >> %s; python3 -c \\"import json,sys; d=json.load(sys.stdin); %s; print(json.dumps(d))\\""]' \
        "${3:-}" "$1" "$TMP/ran" "$2"
}
cat > "$TMP/review.json" <<EOF
{
  "type": "review",
  "retry": {"preset": "FAST", "max_attempts": 3},
  "timeout": "30s",
  "lock_key": "pr:{payload.repo}/{payload.pr}",
  "config": {"org": "{payload.org}", "repo": "{payload.repo}"},
  "state": {"summary": ["/pr", "/findings"], "compress_above": 300, "snapshot_every": 3},
  "stages": [
    {"name": "validate", "exec": $(stage validate "d['valid']=True")},
    {"name": "resolve_config", "builtin": "resolve_config"},
    {"name": "analyze", "exec": $(stage analyze "d['findings']=['f%d' % i for i in range(60)]; d[chr(36)+'wait']={'event':'approved','key':str(d['pr']),'timeout':'1h'}")},
    {"name": "flaky", "exec": $(stage flaky "d['flaky']=1" '[ \"$WFQ_ATTEMPT\" -ge 2 ] || [ -e '"$TMP"'/flaky-ok ] || { echo flaky-fails >&2; exit 1; };')},
    {"name": "publish", "exec": $(stage publish "d['published']=d['signals']['approved']")}
  ]
}
EOF
expect_exit 0 "$WFQ" workflow check "$TMP/review.json"
contains "$OUT" "5 stages"
printf '{\n  "type": "x",\n  "stages": [\n    {"name": "a", "exec": ["true"], "colour": "red"}\n  ]\n}\n' > "$TMP/bad1.json"
expect_exit 65 "$WFQ" workflow check "$TMP/bad1.json"
contains "$ERR" "bad1.json:4: stages.0.colour: unknown field"
printf '{\n  "type": "x",\n  "retry": {"preset": "SOMETIMES"},\n  "stages": [{"name": "a", "exec": ["true"]}]\n}\n' > "$TMP/bad2.json"
expect_exit 65 "$WFQ" workflow check "$TMP/bad2.json"
contains "$ERR" "bad2.json:3: retry.preset: unknown preset"
printf '{\n  "type": "x",\n  "stages": [\n    {"name": "a"},\n' > "$TMP/bad3.json"
expect_exit 65 "$WFQ" workflow check "$TMP/bad3.json"
contains "$ERR" "bad3.json:5: invalid JSON"
printf '{"type": "x", "timeout": "soon", "stages": [{"name": "a", "builtin": "resolve_config"}]}' > "$TMP/bad4.json"
expect_exit 65 "$WFQ" workflow check "$TMP/bad4.json"
contains "$ERR" "timeout: invalid duration"
pass "workflow check accepts a good file and names the line and field of bad ones (exit 65)"

"$WFQ" config set org:acme '{"model": "large"}' 2> /dev/null
run() { "$WFQ" process --workflow "$TMP/review.json" --until-empty --rescue-interval 200ms --poll 1s 2>> "$TMP/worker.log"; }
count() { grep -c "^$1 $2 " "$TMP/ran" || true; }
id=$("$WFQ" enqueue review '{"org": "acme", "repo": "widgets", "pr": 7}')
run
[ "$(job_field "$id" state)" = waiting ] || { tail -5 "$TMP/worker.log"; fail "not waiting: $(job_field "$id" state)"; }
expect_exit 0 "$WFQ" jobs list --state waiting
contains "$OUT" "waits for approved key 7"
[ "$("$WFQ" why "$id" --json | jq_field "d['reason']")" = waiting_for_event ] || fail "why waiting_for_event"
contains "$("$WFQ" why "$id")" "wfq signal approved --key 7"
expect_exit 0 "$WFQ" signal approved --key 7 --data '{"by": "alice"}'
[ "$OUT" = "$id" ] || fail "signal resumed '$OUT'"
run
[ "$(job_field "$id" state)" = completed ] || fail "not completed after the signal: $("$WFQ" jobs show "$id")"
result=$("$WFQ" jobs show "$id" --json)
[ "$(echo "$result" | jq_field "d['result']['published']")" = "{'by': 'alice'}" ] || fail "signal data not in the context"
[ "$(echo "$result" | jq_field "d['result']['config']")" = "{'model': 'large'}" ] || fail "resolve_config built-in"
for s in validate analyze publish; do [ "$(count $s "$id")" = 1 ] || fail "stage $s ran $(count $s "$id") times"; done
[ "$(count flaky "$id")" = 1 ] || fail "flaky succeeded $(count flaky "$id") times"
echo "$result" | jq_field "[e['message'] for e in d['events'] if e['kind'] == 'retry_scheduled']" | grep "stage flaky: flaky-fails" > /dev/null \
    || fail "the flaky stage's failure is not in the timeline"
pass "a pipeline runs its stages, parks on \$wait, resumes on wfq signal, retries a failing stage without re-running earlier ones"

expect_exit 0 "$WFQ" state inspect "$id" --history --json
# analyze adds most of the document: its delta is not much smaller than the whole, so it is a
# snapshot; the small changes after it are deltas again.
[ "$(echo "$OUT" | jq_field "[c['kind'][0] for c in d]")" = "['s', 'd', 's', 'd', 'd']" ] || fail "checkpoint kinds: $OUT"
[ "$(echo "$OUT" | jq_field "[c['gzip'] for c in d]")" = "[False, False, True, False, False]" ] || fail "gzip only above 300 bytes: $OUT"
[ "$(echo "$OUT" | jq_field "d[2]['summary']['counts']['findings']")" = 60 ] || fail "minimal state counts"
expect_exit 0 "$WFQ" state inspect "$id" --checkpoint 3 --minimal
contains "$OUT" '"/pr":7'
expect_exit 0 "$WFQ" state inspect "$id" --checkpoint 1 --json
[ "$(echo "$OUT" | jq_field "(d['valid'], 'findings' in d)")" = "(True, False)" ] || fail "context at checkpoint 1"
expect_exit 0 "$WFQ" trace show "$id"
contains "$OUT" "stage analyze"
contains "$OUT" "checkpoint analyze"
pass "checkpoints: snapshot first, deltas, a snapshot when the delta is not smaller, gzip above the threshold, minimal state; inspect and stage spans"

# A signal that arrives before the wait is kept and consumed when the wait starts.
touch "$TMP/flaky-ok"
"$WFQ" signal approved --key 8 --data '"early"' 2> "$TMP/err"
contains "$(cat "$TMP/err")" "stored"
early=$("$WFQ" enqueue review '{"org": "acme", "repo": "widgets", "pr": 8}')
run
[ "$(job_field "$early" state)" = completed ] || fail "early signal: $(job_field "$early" state)"
[ "$("$WFQ" jobs show "$early" --json | jq_field "d['result']['published']")" = early ] || fail "early signal data"
pass "a signal sent before the wait is stored, then consumed when the wait starts"

# A worker killed between stages: the next attempt resumes at the first stage without a checkpoint.
cat > "$TMP/crash.json" <<EOF
{"type": "crashy", "retry": {"preset": "FAST", "max_attempts": 3}, "stages": [
  {"name": "one", "exec": $(stage one "d['one']=1")},
  {"name": "two", "exec": $(stage two "d['two']=1" '[ \"$WFQ_ATTEMPT\" -ge 2 ] || { kill -KILL $PPID; sleep 30; exit 1; };')},
  {"name": "three", "exec": $(stage three "d['three']=1")}]}
EOF
crash=$("$WFQ" enqueue crashy '{}')
expect_exit 137 "$WFQ" process --workflow "$TMP/crash.json" --lease 1s --rescue-interval 0
[ "$(job_field "$crash" state)" = running ] || fail "the crashed attempt should still look running"
"$WFQ" process --workflow "$TMP/crash.json" --max-jobs 1 --rescue-interval 200ms --poll 100ms 2> /dev/null
[ "$(job_field "$crash" state)" = completed ] || fail "crashed job not completed"
[ "$(count one "$crash")" = 1 ] || fail "stage one re-ran after the crash"
# stage two's first run killed its worker before logging; its second run logged once
[ "$(count two "$crash")" = 1 ] && [ "$(count three "$crash")" = 1 ] || fail "stage runs after the crash: $(cat "$TMP/ran")"
grep "^two $crash 2$" "$TMP/ran" > /dev/null || fail "stage two should have run again on attempt 2"
[ "$(job_field "$crash" attempt)" = 2 ] || fail "attempt after the crash"
pass "a worker SIGKILLed between stages: the rescued job resumes at the stage without a checkpoint"

# Deadlines: a wait that times out is retried (the job waits again), then fails.
cat > "$TMP/wait.json" <<EOF
{"type": "waiter", "retry": {"max_attempts": 2}, "stages": [
  {"name": "ask", "exec": $(stage ask "d[chr(36)+'wait']={'event':'never','key':'k','timeout':'300ms'}")}]}
EOF
waiter=$("$WFQ" enqueue waiter '{}')
"$WFQ" process --workflow "$TMP/wait.json" --until-empty 2> /dev/null
[ "$(job_field "$waiter" state)" = waiting ] || fail "waiter not waiting"
past_deadline() {
    { "$WFQ" doctor --json || true; } | python3 -c "import json,sys; sys.exit(0 if [f['severity'] for f in json.load(sys.stdin) if f['check'] == 'waiting_jobs'] == ['error'] else 1)"
}
wait_for 10 past_deadline
expect_exit 1 "$WFQ" doctor
wait_for 10 sh -c "'$WFQ' rescue 2>/dev/null | grep '$waiter pending' > /dev/null"
"$WFQ" process --workflow "$TMP/wait.json" --until-empty 2> /dev/null
[ "$(job_field "$waiter" state)" = waiting ] || fail "waiter did not wait again"
[ "$(count ask "$waiter")" = 1 ] || fail "the wait stage re-ran"
wait_for 10 sh -c "'$WFQ' rescue 2>/dev/null | grep '$waiter failed' > /dev/null"
[ "$(job_field "$waiter" error_class)" = wait_timeout ] || fail "error class"
pass "a wait past its deadline is retried per policy, then fails with wait_timeout"

# Corrupt stored state: exit 65 naming the job and checkpoint; processing fails it for good.
# A truncated gzip stream where the fourth checkpoint's blob was.
if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    sql "UPDATE checkpoints SET data = '\\x1f8b0800'::bytea, gzipped = 1 WHERE job_id = $id AND seq = 4" > /dev/null
else
    sql "UPDATE checkpoints SET data = X'1f8b0800', gzipped = 1 WHERE job_id = $id AND seq = 4" > /dev/null
fi
expect_exit 65 "$WFQ" state inspect "$id"
contains "$ERR" "job $id"
contains "$ERR" "checkpoint 4"
sql "DELETE FROM checkpoints WHERE job_id = $id AND seq = 5" > /dev/null
"$WFQ" jobs retry "$id" > /dev/null
run
[ "$(job_field "$id" state)" = failed ] || fail "a job with corrupt state should fail"
[ "$(job_field "$id" error_class)" = corrupt_state ] || fail "corrupt_state class"
contains "$(job_field "$id" last_error)" "checkpoint 4"
pass "corrupt checkpoints: inspect exits 65 naming job and checkpoint; the job fails with corrupt_state, never a wrong context"

# The workflow's lock key: two jobs of one pull request never run at once; the second is
# deferred without spending attempts and runs when the first is done.
cat > "$TMP/locked.json" <<EOF
{"type": "locked", "lock_key": "pr:{payload.pr}", "stages": [
  {"name": "hold", "exec": $(stage hold "d['held']=True" 'touch '"$TMP"'/holding-$WFQ_JOB_ID; while [ ! -e '"$TMP"'/go ]; do sleep 0.05; done;')}]}
EOF
first=$("$WFQ" enqueue locked '{"pr": 42}')
second=$("$WFQ" enqueue locked '{"pr": 42}')
"$WFQ" process --workflow "$TMP/locked.json" --concurrency 2 --poll 200ms 2> "$TMP/locked.log" &
worker=$!
# Either job may get the key first (both are claimed together); the other must wait.
holds() { [ -e "$TMP/holding-$first" ] || [ -e "$TMP/holding-$second" ]; }
wait_for 20 holds
if [ -e "$TMP/holding-$first" ]; then holder=$first; other=$second; else holder=$second; other=$first; fi
wait_for 20 sh -c "'$WFQ' jobs show $other --json | grep '\"kind\": \"deferred\"' > /dev/null"
[ ! -e "$TMP/holding-$other" ] || fail "both jobs of one lock key ran at once"
touch "$TMP/go"
wait_for 30 sh -c "[ \"\$('$WFQ' jobs show $other --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = completed ]"
kill -0 "$worker" 2> /dev/null || { tail -20 "$TMP/locked.log"; fail "the worker exited by itself"; }
kill -TERM "$worker"
expect_wait 0 "$worker" "the lock-key worker after SIGTERM" "$TMP/locked.log"
[ "$(job_field "$holder" state)" = completed ] || fail "the holder did not complete"
[ "$(job_field "$other" attempt)" = 1 ] || fail "waiting for the lock key spent attempts: $(job_field "$other" attempt)"
pass "the workflow's lock key keeps two jobs of one PR apart; the second waits without spending attempts"

# The workflow's limit key templates (flow control): jobs enqueued without keys get them at their
# first attempt, are given back without spending it, and wait for admission; a cap of 1 per org
# keeps acme's two reviews apart while beta's runs beside them.
"$WFQ" limits set 'wforg:*' --concurrency 1
cat > "$TMP/limited.json" <<EOF
{"type": "wflimited", "limits": ["wforg:{job.org}", "wfrepo:{payload.repo}"], "stages": [
  {"name": "hold", "exec": $(stage hold "d['held']=True" 'touch '"$TMP"'/wfl-$WFQ_JOB_ID; if [ -e '"$TMP"'/wfl-hold-$WFQ_JOB_ID ]; then while [ ! -e '"$TMP"'/wfl-go ]; do sleep 0.05; done; fi;')}]}
EOF
"$WFQ" workflow check "$TMP/limited.json" > /dev/null || fail "workflow check refused a workflow with limits"
a1=$("$WFQ" enqueue wflimited '{"repo": "r1"}' --org acme)
a2=$("$WFQ" enqueue wflimited '{"repo": "r2"}' --org acme)
b1=$("$WFQ" enqueue wflimited '{"repo": "r3"}' --org beta)
touch "$TMP/wfl-hold-$a1" "$TMP/wfl-hold-$a2"   # either acme job holds acme's one slot until wfl-go
"$WFQ" process --workflow "$TMP/limited.json" --concurrency 3 --poll 100ms 2> "$TMP/limited.log" &
worker=$!
job_state() { "$WFQ" jobs show "$1" --json | jq_field "d['state']"; }
completed() { [ "$(job_state "$1")" = completed ]; }
# beta's job is not held behind acme's.
wait_for 20 completed "$b1"
acme_running() { [ -e "$TMP/wfl-$a1" ] || [ -e "$TMP/wfl-$a2" ]; }
wait_for 20 acme_running
if [ -e "$TMP/wfl-$a1" ]; then holder=$a1; other=$a2; else holder=$a2; other=$a1; fi
limited() { "$WFQ" why "$other" --json | jq_field "d['reason']" | grep -qx concurrency_limited; }
wait_for 20 limited
contains "$("$WFQ" why "$other")" "wforg:acme"
[ ! -e "$TMP/wfl-$other" ] || fail "two acme jobs ran at once under a cap of 1"
touch "$TMP/wfl-go"
wait_for 30 completed "$a1"
wait_for 30 completed "$a2"
kill -TERM "$worker"
expect_wait 0 "$worker" "the workflow-limits worker after SIGTERM" "$TMP/limited.log"
for j in $a1 $a2 $b1; do
    [ "$(job_field "$j" attempt)" = 1 ] || fail "job $j spent attempts waiting for its limit keys: $(job_field "$j" attempt)"
    "$WFQ" jobs show "$j" --json | grep -q '"kind": "deferred"' || fail "job $j was not given back for its keys"
done
[ "$("$WFQ" jobs show "$a2" --json | jq_field "','.join(d['limits'])")" = "wforg:acme,wfrepo:r2" ] \
    || fail "job $a2 does not hold its workflow's keys: $("$WFQ" jobs show "$a2" --json | jq_field "d['limits']")"
contains "$("$WFQ" jobs show "$a1")" "held for its workflow's limit keys"
pass "a workflow's limits templates: jobs take the keys at their first attempt, wait for admission without spending it, and the cap holds"

# Bad limits in a workflow file: 65 naming the field.
for bad in '"limits": "org:x"' '"limits": ["org:{job.nope}"]' '"limits": ["org:{job.org"]' '"limits": [""]' \
           '"limits": ["a","b","c","d","e","f","g","h","i"]'; do
    printf '{"type": "t", %s, "stages": [{"name": "s", "builtin": "resolve_config"}]}\n' "$bad" > "$TMP/badlimits.json"
    expect_exit 65 "$WFQ" workflow check "$TMP/badlimits.json"
    contains "$ERR" "limits"
done
pass "workflow check refuses malformed limits templates with 65, naming the field"
