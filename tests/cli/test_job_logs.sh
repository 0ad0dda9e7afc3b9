# Each job's own logs (`wfq jobs logs`): an exec handler's stderr per attempt, a stream handler's
# lines prefixed [ID] (and unprefixed ones while it holds one job), --log-cap keeping the newest
# lines and marking the cut, --attempt, --json, --follow (also of a running attempt's lines),
# `jobs show` pointing at them, and the logs going with the job when it is pruned.
. "$(dirname "$0")/lib.sh"

# Exec: each attempt writes its own lines; the first attempt fails.
cat > "$TMP/exec.sh" <<'SH'
#!/bin/sh
cat > /dev/null
echo "start of attempt $WFQ_ATTEMPT of job $WFQ_JOB_ID" >&2
echo "second line of attempt $WFQ_ATTEMPT" >&2
[ "$WFQ_ATTEMPT" -ge 2 ] || { echo "failing attempt $WFQ_ATTEMPT" >&2; exit 1; }
echo '{"ok":true}'
SH
chmod +x "$TMP/exec.sh"
id=$("$WFQ" enqueue build '{}')
"$WFQ" process --until-drained --retry-preset fast --poll 100ms -- "$TMP/exec.sh" 2> "$TMP/log1" || { tail "$TMP/log1"; fail "process"; }
[ "$(job_field "$id" state)" = completed ] || fail "job $id not completed"
expect_exit 0 "$WFQ" jobs logs "$id"
contains "$OUT" "== attempt 1 ("
contains "$OUT" "start of attempt 1 of job $id"
contains "$OUT" "failing attempt 1"
contains "$OUT" "== attempt 2 ("
contains "$OUT" "second line of attempt 2"
case "$OUT" in *"failing attempt 2"*) fail "attempt 2 did not fail: $OUT" ;; esac
pass "exec: every attempt's stderr is kept"

expect_exit 0 "$WFQ" jobs logs "$id" --attempt 1
[ "$OUT" = "start of attempt 1 of job $id
second line of attempt 1
failing attempt 1" ] || fail "--attempt 1 printed: $OUT"
expect_exit 4 "$WFQ" jobs logs "$id" --attempt 3
contains "$ERR" "no log for attempt 3"
expect_exit 2 "$WFQ" jobs logs "$id" --attempt 0
contains "$ERR" "--attempt"
expect_exit 4 "$WFQ" jobs logs 987654
pass "--attempt picks one; a missing one exits 4"

"$WFQ" jobs logs "$id" --json | python3 -c "
import json, sys
logs = json.load(sys.stdin)
assert [l['attempt'] for l in logs] == [1, 2], logs
assert logs[1]['log'] == 'start of attempt 2 of job $id\nsecond line of attempt 2\n', logs[1]
assert logs[0]['job_id'] == $id and logs[0]['truncated'] is False and logs[0]['dropped_bytes'] == 0, logs[0]
assert logs[0]['at'].endswith('Z'), logs[0]
" || fail "jobs logs --json"
"$WFQ" jobs show "$id" --json | python3 -c "
import json, sys
j = json.load(sys.stdin)
assert [l['attempt'] for l in j['logs']] == [1, 2], j['logs']
assert j['logs'][1]['bytes'] == len('start of attempt 2 of job $id\nsecond line of attempt 2\n'), j['logs']
" || fail "jobs show --json lacks the logs"
expect_exit 0 "$WFQ" jobs show "$id"
contains "$OUT" "logs: attempts 1, 2 (wfq jobs logs $id)"
pass "--json and jobs show point at the logs"

# --log-cap: the newest lines that fit, the cut marked.
cat > "$TMP/chatty.sh" <<'SH'
#!/bin/sh
cat > /dev/null
i=1
while [ $i -le 200 ]; do echo "chatty line $i" >&2; i=$((i + 1)); done
SH
chmod +x "$TMP/chatty.sh"
capped=$("$WFQ" enqueue chatty '{}')
"$WFQ" process --until-empty --log-cap 100 --poll 100ms -- "$TMP/chatty.sh" 2> /dev/null
expect_exit 0 "$WFQ" jobs logs "$capped" --attempt 1
contains "$OUT" "earlier bytes of this attempt's log were dropped (--log-cap)"
contains "$OUT" "chatty line 200"
case "$OUT" in *"chatty line 1
"*|*"chatty line 100
"*) fail "old lines kept: $OUT" ;; esac
"$WFQ" jobs logs "$capped" --json | python3 -c "
import json, sys
l = json.load(sys.stdin)[0]
total = sum(len('chatty line %d\n' % i) for i in range(1, 201))
assert len(l['log']) <= 100 and l['log'].endswith('chatty line 200\n'), l
assert l['truncated'] is True and l['dropped_bytes'] == total - len(l['log']), l
" || fail "capped log"
nolog=$("$WFQ" enqueue chatty '{}')
"$WFQ" process --until-empty --log-cap 0 --poll 100ms -- "$TMP/chatty.sh" 2> /dev/null
expect_exit 0 "$WFQ" jobs logs "$nolog"
[ -z "$OUT" ] || fail "--log-cap 0 kept: $OUT"
expect_exit 2 "$WFQ" process --until-empty --log-cap 12XB -- "$TMP/chatty.sh"
contains "$ERR" "--log-cap"
expect_exit 2 "$WFQ" process --until-empty --log-cap 17MiB -- "$TMP/chatty.sh"
contains "$ERR" "--log-cap must be at most 16MiB"
pass "--log-cap keeps the newest lines and marks the cut; 0 keeps none; bad sizes exit 2"

# Stream: lines prefixed [ID] go to that job; an unprefixed line to the one job the process
# holds, and to none while it holds two.
cat > "$TMP/stream.py" <<'PY'
import json, sys
held = []
def send(a):
    sys.stdout.write(json.dumps(a) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    m = json.loads(line)
    if "cancel" in m: continue
    i = m["id"]
    if m["type"] == "solo":
        print("unprefixed line of the only job", file=sys.stderr, flush=True)
        send({"id": i, "ok": True})
        continue
    held.append(i)
    print("[%d] prefixed line of job %d" % (i, i), file=sys.stderr, flush=True)
    if len(held) == 2:
        print("unprefixed line while holding two", file=sys.stderr, flush=True)
        for j in held: send({"id": j, "ok": True})
        held = []
PY
p1=$("$WFQ" enqueue pair '{}')
p2=$("$WFQ" enqueue pair '{}')
"$WFQ" process --until-empty --concurrency 2 --poll 100ms --type pair --stream -- python3 "$TMP/stream.py" 2> "$TMP/log2" || { tail "$TMP/log2"; fail "process --stream"; }
for p in "$p1" "$p2"; do
    expect_exit 0 "$WFQ" jobs logs "$p" --attempt 1
    [ "$OUT" = "[$p] prefixed line of job $p" ] || fail "stream job $p logs: $OUT"
done
solo=$("$WFQ" enqueue solo '{}')
"$WFQ" process --until-empty --concurrency 1 --poll 100ms --type solo --stream -- python3 "$TMP/stream.py" 2> "$TMP/log3" || { tail "$TMP/log3"; fail "process --stream solo"; }
expect_exit 0 "$WFQ" jobs logs "$solo" --attempt 1
[ "$OUT" = "unprefixed line of the only job" ] || fail "solo stream job logs: $OUT"
pass "stream: [ID] lines to their job, unprefixed ones to the only job"

# --follow: waits for the job's attempts and stops once it is finished.
later=$("$WFQ" enqueue build '{}')
"$WFQ" jobs logs "$later" --follow > "$TMP/follow" 2> "$TMP/follow.err" &
follower=$!
"$WFQ" jobs logs "$later" --follow --json > "$TMP/follow.json" 2> /dev/null &
follower_json=$!
"$WFQ" process --until-drained --retry-preset fast --poll 100ms -- "$TMP/exec.sh" 2> /dev/null
expect_wait 0 "$follower" "jobs logs --follow" "$TMP/follow.err"
expect_wait 0 "$follower_json" "jobs logs --follow --json"
contains "$(cat "$TMP/follow")" "failing attempt 1"
contains "$(cat "$TMP/follow")" "second line of attempt 2"
python3 - "$TMP/follow.json" <<'PY' || fail "--follow --json: $(cat "$TMP/follow.json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
# One object per write of an attempt's log (while it runs, then with its outcome), each with
# the lines the ones before it did not have.
assert sorted(set(l["attempt"] for l in lines)) == [1, 2] and [l["attempt"] for l in lines] == sorted(l["attempt"] for l in lines), lines
text = {a: "".join(l["log"] for l in lines if l["attempt"] == a) for a in (1, 2)}
assert text[2].endswith("second line of attempt 2\n") and text[2].count("second line") == 1, text
assert "failing attempt 1" in text[1] and text[1].count("start of attempt 1") == 1, text
PY
pass "--follow prints each attempt as it is recorded and ends with the job"

# Live: a running attempt's lines reach `jobs logs` (and --follow) before it ends. The handler
# writes a line, then waits on a FIFO the test opens only once it has seen that line.
mkfifo "$TMP/gate"
cat > "$TMP/live.sh" <<'SH'
#!/bin/sh
cat > /dev/null
echo "live line of job $WFQ_JOB_ID" >&2
cat "$GATE" > /dev/null
echo "after the gate" >&2
echo '{"ok":true}'
SH
chmod +x "$TMP/live.sh"
cat > "$TMP/live_stream.py" <<'PY'
import json, os, sys
for line in sys.stdin:
    m = json.loads(line)
    if "cancel" in m: continue
    i = m["id"]
    print("[%d] live line of job %d" % (i, i), file=sys.stderr, flush=True)
    with open(os.environ["GATE"]) as g: g.read()
    print("[%d] after the gate" % i, file=sys.stderr, flush=True)
    sys.stdout.write(json.dumps({"id": i, "ok": True}) + "\n"); sys.stdout.flush()
PY
logs_have() { "$WFQ" jobs logs "$1" --attempt 1 2> /dev/null | grep -q "$2"; }
for mode in exec stream; do
    live=$("$WFQ" enqueue "live_$mode" '{}')
    if [ "$mode" = exec ]; then
        GATE="$TMP/gate" "$WFQ" process --until-empty --poll 100ms --type live_exec -- "$TMP/live.sh" 2> "$TMP/live.log" &
    else
        GATE="$TMP/gate" "$WFQ" process --until-empty --poll 100ms --type live_stream --stream -- python3 "$TMP/live_stream.py" 2> "$TMP/live.log" &
    fi
    worker=$!
    "$WFQ" jobs logs "$live" --follow > "$TMP/live.follow" 2> "$TMP/live.follow.err" &
    live_follower=$!
    wait_for 20 logs_have "$live" "live line of job $live"
    [ "$(job_field "$live" state)" = running ] || fail "$mode: job $live is not running while its handler waits"
    logs_have "$live" "after the gate" && fail "$mode: a line the handler has not written yet"
    wait_for 20 grep -q "live line of job $live" "$TMP/live.follow"
    kill -0 "$live_follower" 2> /dev/null || fail "$mode: --follow ended while the job runs"
    echo go > "$TMP/gate"
    expect_wait 0 "$worker" "process ($mode)" "$TMP/live.log"
    expect_wait 0 "$live_follower" "jobs logs --follow ($mode)" "$TMP/live.follow.err"
    [ "$(job_field "$live" state)" = completed ] || fail "$mode: job $live not completed"
    [ "$(grep -c "live line of job $live" "$TMP/live.follow")" = 1 ] || fail "$mode: --follow printed: $(cat "$TMP/live.follow")"
    grep -q "after the gate" "$TMP/live.follow" || fail "$mode: --follow missed the last line: $(cat "$TMP/live.follow")"
    expect_exit 0 "$WFQ" jobs logs "$live" --attempt 1
    contains "$OUT" "live line of job $live"
    contains "$OUT" "after the gate"
done
pass "a running attempt's lines reach jobs logs and --follow while it runs (exec and stream)"

# Pruned with the job.
expect_exit 0 "$WFQ" jobs prune --older-than 0s --state completed --yes
expect_exit 4 "$WFQ" jobs logs "$id"
expect_exit 4 "$WFQ" jobs logs "$capped"
pass "logs go with the pruned job"
