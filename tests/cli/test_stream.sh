# Stream handlers (`process --stream -- CMD`): the NDJSON protocol (every message field, answers
# in any order, failure, permanent failure, snooze), stderr lines with the job id, --procs, cancel
# messages on timeout, the example handlers of examples/handlers, and snooze for exec handlers
# (attempt unspent, `snoozed` event, --max-snoozes, `wfq why`).
. "$(dirname "$0")/lib.sh"
EXAMPLES="$WFQ_SOURCE_DIR/examples/handlers"

# A handler that answers after it has seen every field, and keeps "pair" jobs until it holds
# two of them, then answers them in reverse order of arrival (logged to argv[2]: which job wfq
# sent first is up to its executors).
cat > "$TMP/handler.py" <<'PY'
import json, sys
held = []
def send(a):
    sys.stdout.write(json.dumps(a) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    m = json.loads(line)
    if "cancel" in m:
        with open(sys.argv[1], "a") as f: f.write("%d\n" % m["cancel"])
        continue
    t, i = m["type"], m["id"]
    print("[%d] working on %s" % (i, t), file=sys.stderr, flush=True)
    if t == "ok":
        send({"id": i, "ok": True, "result": {k: m[k] for k in m if k != "id"}})
    elif t == "fail":
        send({"id": i, "ok": False, "error": "boom on attempt %d" % m["attempt"]})
    elif t == "perm":
        send({"id": i, "ok": False, "error": "bad payload", "permanent": True})
    elif t == "snooze":
        send({"id": i, "snooze": "100ms"} if m["snoozes"] == 0 else {"id": i, "ok": True, "result": {"snoozes": m["snoozes"], "attempt": m["attempt"]}})
    elif t == "pair":
        held.append(i)
        if len(held) == 2:
            with open(sys.argv[2], "a") as f: f.write("arrived %d %d\n" % tuple(held))
            for j in reversed(held): send({"id": j, "ok": True, "result": {"order": held.index(j)}})
            held = []
    elif t == "slow":
        pass  # never answered: the timeout sends {"cancel": id}
PY

"$WFQ" config set org:acme '{"model": "large"}' 2>/dev/null
ok=$("$WFQ" enqueue ok '{"n": 1, "s": "line\nbreak"}' --org acme --correlation-id corr-1 --traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01)
fail=$("$WFQ" enqueue fail '{}' --max-attempts 2)
perm=$("$WFQ" enqueue perm '{}')
snooze=$("$WFQ" enqueue snooze '{}')
p1=$("$WFQ" enqueue pair '{}')
p2=$("$WFQ" enqueue pair '{}')
slow=$("$WFQ" enqueue slow '{}' --max-attempts 1)
"$WFQ" process --until-empty --concurrency 4 --timeout 2s --retry-preset fast --poll 200ms \
    --stream -- python3 "$TMP/handler.py" "$TMP/cancels" "$TMP/pairs" 2> "$TMP/log" || { tail -20 "$TMP/log"; fail "process --stream"; }

r=$("$WFQ" jobs show "$ok" --json)
[ "$(echo "$r" | jq_field "d['state']")" = completed ] || fail "ok job not completed"
echo "$r" | jq_field "d['result']" > "$TMP/msg"
python3 - "$TMP/msg" "$ok" <<'PY' || fail "the job message lacks a field: $(cat "$TMP/msg")"
import ast, sys
m = ast.literal_eval(open(sys.argv[1]).read())
assert m["type"] == "ok" and m["queue"] == "default", m
assert m["attempt"] == 1 and m["max_attempts"] == 3 and m["snoozes"] == 0, m
assert m["payload"] == {"n": 1, "s": "line\nbreak"}, m
assert m["correlation_id"] == "corr-1", m
assert m["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-"), m
assert not m["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"), "the attempt's own span"
assert m["config"] == {"model": "large"}, m
assert m["deadline"] and m["deadline"].endswith("Z"), m
PY
pass "each job line carries id, type, queue, attempt, max_attempts, snoozes, payload, correlation_id, the attempt's traceparent, config and deadline"

[ "$(job_field "$fail" state)" = failed ] || fail "failing job not failed"
[ "$(job_field "$fail" attempt)" = 2 ] || fail "failing job retried per the policy"
[ "$(job_field "$fail" error_class)" = handler_error ] || fail "error_class of ok:false"
contains "$(job_field "$fail" last_error)" "boom on attempt 2"
[ "$(job_field "$perm" state)" = failed ] || fail "permanent failure"
[ "$(job_field "$perm" attempt)" = 1 ] || fail "permanent failure retried"
contains "$(job_field "$perm" last_error)" "bad payload"
pass "ok:false is retried by the policy; permanent:true fails at once"

[ "$(job_field "$snooze" state)" = completed ] || fail "snoozed job not completed"
[ "$("$WFQ" jobs show "$snooze" --json | jq_field "d['result']['attempt'], d['result']['snoozes']")" = "1 1" ] \
    || fail "a snooze spends no attempt and counts in snoozes"
"$WFQ" jobs show "$snooze" --json | jq_field "[e['kind'] for e in d['events']]" | grep -q "'snoozed'" || fail "snoozed event"
# Each pair job got the answer meant for it, though the second to arrive was answered first.
read -r _ first second < "$TMP/pairs"
[ "$(sort -n <<< "$first"$'\n'"$second" | tr '\n' ' ')" = "$p1 $p2 " ] || fail "the pair jobs: $(cat "$TMP/pairs")"
[ "$(job_field "$first" result)" = "{'order': 0}" ] && [ "$(job_field "$second" result)" = "{'order': 1}" ] || fail "answers in any order"
pass "snooze answers, and answers in any order"

[ "$(job_field "$slow" error_class)" = timeout ] || fail "unanswered job past --timeout"
wait_for 5 grep -qx "$slow" "$TMP/cancels"
# It ignored the cancel line, so its process was stopped before the job was recorded: a retry
# never runs beside the attempt it replaces.
grep -q "did not answer a job that must stop.*job_id=$slow" "$TMP/log" || { tail -20 "$TMP/log" >&2; fail "a handler that ignores the timeout's cancel is stopped"; }
grep -q "working on ok.*job_id=$ok" "$TMP/log" || { grep "working on" "$TMP/log" >&2; fail "stderr line with [ID] logged with the job id"; }
pass "a job past --timeout fails as timeout, the handler gets {\"cancel\": id} and is stopped when it ignores it; stderr lines carry the job id"

# The examples, as users copy them: every job completes with the payload echoed.
run_example() {
    local name=$1; shift
    for i in $(seq 1 50); do echo "{\"type\": \"$name\", \"payload\": {\"i\": $i}}"; done > "$TMP/$name.ndjson"
    "$WFQ" enqueue --ndjson "$TMP/$name.ndjson" > /dev/null
    "$WFQ" process --until-empty --type "$name" --concurrency 8 --procs 2 --stream -- "$@" 2> "$TMP/$name.log" \
        || { tail "$TMP/$name.log"; fail "$name example"; }
    [ "$("$WFQ" jobs list --type "$name" --state completed --json | jq_field "len(d)")" = 50 ] || fail "$name: not all completed"
    "$WFQ" jobs list --type "$name" --json | jq_field "sorted(j['result']['echo']['i'] for j in d) == list(range(1, 51))" | grep -q True \
        || fail "$name: results"
}
run_example py python3 "$EXAMPLES/stream_handler.py"
pass "the Python example serves jobs over two processes"
if command -v node > /dev/null; then
    run_example js node "$EXAMPLES/stream_handler.js"
    pass "the Node example serves jobs"
else
    echo "note: node not installed; the Node example was not run (scripts/install-deps.sh installs nodejs)"
fi
[ "$(wc -l < "$EXAMPLES/stream_handler.py")" -lt 40 ] && [ "$(wc -l < "$EXAMPLES/stream_handler.js")" -lt 40 ] || fail "examples under 40 lines"

# Exec snooze: {"$snooze": D} on stdout with exit 0; WFQ_SNOOZES counts; --max-snoozes bounds it.
cat > "$TMP/snoozer.sh" <<'SH'
#!/bin/sh
cat > /dev/null
case "$WFQ_JOB_TYPE" in
  later) [ "$WFQ_SNOOZES" -ge 1 ] && echo "{\"snoozes\": $WFQ_SNOOZES}" || echo '{"$snooze": "150ms"}' ;;
  forever) echo '{"$snooze": "50ms"}' ;;
  far) echo '{"$snooze": "1h"}' ;;
esac
SH
chmod +x "$TMP/snoozer.sh"
later=$("$WFQ" enqueue later '{}' --max-attempts 1)
forever=$("$WFQ" enqueue forever '{}')
far=$("$WFQ" enqueue far '{}')
# --until-empty waits for jobs due within the poll interval, so the poll must be longer than
# the 150 ms snooze (with 100 ms, whether the worker waited for it was a race it lost in CI).
"$WFQ" process --until-empty --max-snoozes 2 --poll 1s --type later --type forever --type far --exec "$TMP/snoozer.sh" 2> "$TMP/slog"
[ "$(job_field "$later" state)" = completed ] || fail "exec snooze then complete"
[ "$(job_field "$later" attempt)" = 1 ] || fail "exec snooze spends no attempt"
[ "$(job_field "$later" result)" = "{'snoozes': 1}" ] || fail "WFQ_SNOOZES"
[ "$(job_field "$forever" state)" = failed ] || fail "--max-snoozes"
[ "$(job_field "$forever" error_class)" = snooze_limit ] || fail "snooze_limit"
[ "$(job_field "$forever" snoozes)" = 2 ] || fail "snoozes counted"
contains "$(cat "$TMP/slog")" "job snoozed"
expect_exit 0 "$WFQ" why "$far" --json
[ "$(echo "$OUT" | jq_field "d['reason']")" = snoozed ] || fail "why: $OUT"
expect_exit 0 "$WFQ" why "$far"
contains "$OUT" "snoozed"
contains "$OUT" "1 time"
pass "exec snooze: attempt unspent, WFQ_SNOOZES, --max-snoozes fails with snooze_limit, wfq why explains a snoozed job"
