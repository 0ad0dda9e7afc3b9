# A resumed pipeline sees exactly the context it had: the data of the signal that ended its wait
# survives a failing stage after the wait, through the retry policy, an operator's `jobs retry`
# and a rescue after a SIGKILL; a wait that timed out and is retried by an operator waits again.
. "$(dirname "$0")/lib.sh"
stage() {  # stage NAME PYTHON-STATEMENTS-ON-d [SHELL-PREFIX]
    printf '["sh", "-c", "%s python3 -c \\"import json,sys; d=json.load(sys.stdin); %s; print(json.dumps(d))\\""]' "${3:-}" "$2"
}
# use: needs the signal's data; fails (or hangs, for the rescue case) until $TMP/ok exists.
cat > "$TMP/use.sh" <<EOF
if [ ! -e "$TMP/ok" ]; then
    if [ -e "$TMP/hang" ]; then touch "$TMP/started"; exec sleep 30; fi
    echo not-yet >&2; exit 1
fi
exec python3 -c "import json,sys; d=json.load(sys.stdin); assert 'approved' in d.get('signals', {}), 'no signal data in the context'; d['by']=d['signals']['approved']['by']; print(json.dumps(d))"
EOF
cat > "$TMP/approve.json" <<EOF
{
  "type": "approve",
  "retry": {"preset": "FAST", "max_attempts": 2},
  "stages": [
    {"name": "ask", "exec": $(stage ask "d[chr(36)+'wait']={'event':'approved','key':str(d['pr']),'timeout':'1h'}")},
    {"name": "use", "exec": ["sh", "$TMP/use.sh"]}
  ]
}
EOF
expect_exit 0 "$WFQ" workflow check "$TMP/approve.json"
run() { "$WFQ" process --workflow "$TMP/approve.json" --until-empty --poll 200ms "$@" 2>> "$TMP/worker.log"; }
state() { "$WFQ" jobs show "$1" --json | jq_field "d['state']"; }

# Retry by the policy, then by an operator after the attempts ran out.
id=$("$WFQ" enqueue approve '{"pr": 1}')
run
[ "$(state "$id")" = waiting ] || fail "not waiting: $(state "$id")"
"$WFQ" signal approved --key 1 --data '{"by": "alice"}' > /dev/null
run
[ "$(state "$id")" = failed ] || fail "the stage after the wait should fail twice: $(state "$id")"
contains "$(job_field "$id" last_error)" "not-yet"
touch "$TMP/ok"
expect_exit 0 "$WFQ" jobs retry "$id"
run
[ "$(state "$id")" = completed ] || fail "after jobs retry: $(state "$id"): $(job_field "$id" last_error)"
[ "$("$WFQ" jobs show "$id" --json | jq_field "d['result']['by']")" = alice ] || fail "the signal's data was lost on retry"
pass "a stage after a wait that fails until an operator retries it still sees the signal's data"

# The same through a rescue: the worker is SIGKILLed during the stage after the wait.
rm -f "$TMP/ok"; touch "$TMP/hang"
id=$("$WFQ" enqueue approve '{"pr": 2}')
run
"$WFQ" signal approved --key 2 --data '{"by": "bob"}' > /dev/null
"$WFQ" process --workflow "$TMP/approve.json" --lease 1s --rescue-interval 0 2>> "$TMP/worker.log" &
worker=$!
wait_for 30 test -e "$TMP/started"
kill -KILL "$worker"
expect_wait 137 "$worker" "the killed worker"
pkill -f "exec sleep 30" 2> /dev/null || true
rm -f "$TMP/hang"; touch "$TMP/ok"
wait_for 30 sh -c "'$WFQ' rescue 2>/dev/null | grep -q '$id pending'"
run
[ "$(state "$id")" = completed ] || fail "after rescue: $(state "$id"): $(job_field "$id" last_error)"
[ "$("$WFQ" jobs show "$id" --json | jq_field "d['result']['by']")" = bob ] || fail "the signal's data was lost on rescue"
pass "a rescued job resumes after its wait with the signal's data"

# An operator's retry of a job whose wait timed out waits again instead of skipping the wait.
cat > "$TMP/waiter.json" <<EOF
{"type": "waiter", "retry": {"max_attempts": 1}, "stages": [
  {"name": "ask", "exec": $(stage ask "d[chr(36)+'wait']={'event':'never','key':'k','timeout':'200ms'}")},
  {"name": "after", "exec": $(stage after "d['after']=True")}]}
EOF
waiter=$("$WFQ" enqueue waiter '{}')
"$WFQ" process --workflow "$TMP/waiter.json" --until-empty 2>> "$TMP/worker.log"
[ "$(state "$waiter")" = waiting ] || fail "waiter not waiting"
wait_for 20 sh -c "'$WFQ' rescue 2>/dev/null | grep -q '$waiter failed'"
expect_exit 0 "$WFQ" jobs retry "$waiter"
"$WFQ" process --workflow "$TMP/waiter.json" --until-empty 2>> "$TMP/worker.log"
[ "$(state "$waiter")" = waiting ] || fail "a retried wait was skipped: $(state "$waiter")"
expect_exit 0 "$WFQ" signal never --key k --data '1'
"$WFQ" process --workflow "$TMP/waiter.json" --until-empty 2>> "$TMP/worker.log"
[ "$(state "$waiter")" = completed ] || fail "waiter after the signal: $(state "$waiter")"
pass "jobs retry of a job whose wait timed out waits for the event again"
