# Observability: the trace continues from enqueue through process to the handler, the OTLP file
# has the file exporter's shape, promtool accepts both metric outputs, JSON logs carry the ids,
# and doctor and why explain staged situations.
. "$(dirname "$0")/lib.sh"
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
OTLP=$TMP/spans.jsonl

"$WFQ" config set org:acme '{"model": "large"}'
id=$(TRACEPARENT=$TP "$WFQ" --otlp-file "$OTLP" enqueue traced '{}' --org acme)
bad=$(TRACEPARENT=$TP "$WFQ" --otlp-file "$OTLP" enqueue broken '{}' --max-attempts 1)
"$WFQ" --otlp-file "$OTLP" --log-format json process --until-empty --metrics-file "$TMP/worker.prom" \
    --exec sh -c 'cat > /dev/null; echo "{\"tp\": \"$TRACEPARENT\"}"; [ "$WFQ_JOB_TYPE" = traced ]' 2> "$TMP/log.jsonl"
python3 - "$OTLP" "$TMP/log.jsonl" "$id" "$TP" "$("$WFQ" jobs show "$id" --json)" <<'PY' || fail "trace shape (see above)"
import json, re, sys
otlp, logs, job_id, tp, job = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
trace_id = tp.split("-")[1]
spans = []
for line in open(otlp):
    req = json.loads(line)
    rs = req["resourceSpans"][0]
    assert {"key": "service.name", "value": {"stringValue": "wfq"}} in rs["resource"]["attributes"], rs["resource"]
    for ss in rs["scopeSpans"]:
        assert ss["scope"]["name"] == "wfq"
        spans += ss["spans"]
for s in spans:
    assert re.fullmatch(r"[0-9a-f]{32}", s["traceId"]) and re.fullmatch(r"[0-9a-f]{16}", s["spanId"]), s
    assert re.fullmatch(r"\d+", s["startTimeUnixNano"]) and re.fullmatch(r"\d+", s["endTimeUnixNano"]), s
    assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]), s
    assert isinstance(s["kind"], int) and isinstance(s["status"]["code"], int), s
    for a in s["attributes"]:
        v = a["value"]
        assert "stringValue" in v or ("intValue" in v and isinstance(v["intValue"], str)), a
mine = [s for s in spans if any(a["key"] == "messaging.message.id" and a["value"]["stringValue"] == job_id for a in s["attributes"])]
send = [s for s in mine if s["kind"] == 4][0]
proc = [s for s in mine if s["kind"] == 5][0]
assert send["traceId"] == trace_id and send["parentSpanId"] == tp.split("-")[2], send
assert proc["traceId"] == trace_id and proc["parentSpanId"] == send["spanId"], "consumer span is a child of the producer span"
attrs = {a["key"]: list(a["value"].values())[0] for a in proc["attributes"]}
assert attrs["messaging.system"] == "wfq" and attrs["messaging.operation.type"] == "process" and attrs["messaging.destination.name"] == "default", attrs
children = {s["name"] for s in spans if s.get("parentSpanId") == proc["spanId"]}
assert {"claim", "resolve_config"} <= children, children
handler_tp = job["result"]["tp"].split("-")
assert handler_tp[1] == trace_id and handler_tp[2] == proc["spanId"], "the handler's TRACEPARENT is the attempt span"
failed = [s for s in spans if s["kind"] == 5 and s["status"]["code"] == 2]
assert failed and failed[0]["status"]["message"], "a failed attempt's span records the error"
lines = [json.loads(l) for l in open(logs) if l.strip()]
done = [l for l in lines if l["message"] == "job completed" and l.get("job_id") == job_id][0]
for k in ("time", "level", "job_id", "type", "attempt", "correlation_id", "trace_id", "worker_id"):
    assert k in done, (k, done)
assert done["trace_id"] == trace_id
print("checked", len(spans), "spans")
PY
expect_exit 0 "$WFQ" trace show "$id"
contains "$OUT" "send default"
contains "$OUT" "    claim"
expect_exit 0 "$WFQ" trace show "$bad" --json
echo "$OUT" | jq_field "[s['status']['code'] for s in d if s['kind'] == 5]" | grep -x "\[2\]" > /dev/null || fail "trace show --json error status"
expect_exit 4 "$WFQ" trace show 999999
pass "one trace from enqueue (producer) through process (consumer, claim, config) to the handler's TRACEPARENT; OTLP file shape; JSON logs carry trace_id"

# NDJSON batch enqueue, per the messaging conventions for batch publishing: a `create` span
# (producer) per job without a traceparent of its own, whose context the job carries, and a
# `send` span (client) per batch with messaging.batch.message_count and a link to every job's
# creation context (a line's own traceparent included, with no create span for it).
OWN=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
printf '%s\n' '{"type": "bulk", "payload": {"n": 1}}' '{"type": "bulk", "payload": {"n": 2}}' \
    "{\"type\": \"bulk\", \"traceparent\": \"$OWN\"}" '{"type": "bulk", "queue": "other"}' > "$TMP/batch.ndjson"
TRACEPARENT=$TP "$WFQ" --otlp-file "$TMP/batch.jsonl" enqueue --ndjson "$TMP/batch.ndjson" --batch-size 3 > "$TMP/batch.ids" 2> /dev/null
"$WFQ" --otlp-file "$TMP/batch.jsonl" process --until-empty --type bulk --queue default --queue other --exec sh -c 'cat > /dev/null; echo "{}"' 2> /dev/null
python3 - "$TMP/batch.jsonl" "$TMP/batch.ids" "$TP" "$OWN" <<'PY' || fail "NDJSON batch spans (see above)"
import json, sys
path, ids_path, tp, own = sys.argv[1:5]
ids = open(ids_path).read().split()
spans = [s for line in open(path) for rs in json.loads(line)["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
attrs = lambda s: {a["key"]: list(a["value"].values())[0] for a in s["attributes"]}
creates = [s for s in spans if attrs(s).get("messaging.operation.type") == "create"]
sends = [s for s in spans if attrs(s).get("messaging.operation.type") == "send"]
procs = {attrs(s)["messaging.message.id"]: s for s in spans if attrs(s).get("messaging.operation.type") == "process"}
assert len(creates) == 3, [s["name"] for s in creates]  # the line with its own traceparent has none
for c in creates:
    a = attrs(c)
    assert c["kind"] == 4 and c["name"] == "create " + a["messaging.destination.name"], c
    assert a["messaging.system"] == "wfq" and a["messaging.operation.name"] == "create", a
    assert c["traceId"] == tp.split("-")[1] and c["parentSpanId"] == tp.split("-")[2], "a create span is a child of the command's context"
    p = procs[a["messaging.message.id"]]
    assert p["traceId"] == c["traceId"] and p["parentSpanId"] == c["spanId"], "the job's attempt continues its create span"
assert sorted(attrs(c)["messaging.message.id"] for c in creates) == sorted([ids[0], ids[1], ids[3]]), (ids, creates)
assert [attrs(s)["messaging.batch.message_count"] for s in sends] == ["3", "1"], [attrs(s) for s in sends]
first, second = sends
assert first["kind"] == 3 and first["name"] == "send default" and attrs(first)["messaging.destination.name"] == "default", first
assert second["name"] == "send other", second
for s in sends:
    assert s["traceId"] == tp.split("-")[1] and s["parentSpanId"] == tp.split("-")[2], s
linked = [(l["traceId"], l["spanId"]) for l in first["links"]]
created = {attrs(c)["messaging.message.id"]: (c["traceId"], c["spanId"]) for c in creates}
assert linked == [created[ids[0]], created[ids[1]], (own.split("-")[1], own.split("-")[2])], (linked, created)
assert [(l["traceId"], l["spanId"]) for l in second["links"]] == [created[ids[3]]], second
assert procs[ids[2]]["parentSpanId"] == own.split("-")[2], "a line's own traceparent is its creation context"
PY
pass "NDJSON batches: a create span per job, a send span per batch linking each creation context"

nosample=$("$WFQ" --trace-sample 0 --otlp-file "$TMP/none.jsonl" enqueue unsampled '{}')
"$WFQ" --otlp-file "$TMP/none.jsonl" process --until-empty --type unsampled --exec sh -c 'echo "{\"tp\": \"$TRACEPARENT\"}"' 2> /dev/null
[ ! -s "$TMP/none.jsonl" ] || fail "an unsampled trace was exported"
job_field "$nosample" result | grep -- "-00'" > /dev/null || fail "the handler's TRACEPARENT should carry flags 00"
expect_exit 2 "$WFQ" --trace-sample 2 enqueue x '{}'
pass "--trace-sample 0: nothing exported, the decision propagates (flags 00) to the handler"

"$WFQ" metrics > "$TMP/queue.prom"
promtool check metrics < "$TMP/queue.prom" || fail "promtool rejects wfq metrics"
promtool check metrics < "$TMP/worker.prom" || fail "promtool rejects the worker's metrics file"
grep -E '^wfq_jobs\{state="failed",type="broken",queue="default"\} 1$' "$TMP/queue.prom" > /dev/null || fail "failed count"
grep -E '^wfq_worker_jobs_total\{worker=".*",outcome="completed"\} 1$' "$TMP/worker.prom" > /dev/null || fail "worker completed counter"
grep -E '^wfq_worker_config_cache_misses_total\{worker=".*"\} 1$' "$TMP/worker.prom" > /dev/null || fail "cache counter"
# Numbers are written as the shortest text that reads back the same (18.293, not
# 18.292999999999999; le="0.005", not 0.0050000000000000001), in values and in labels.
shortest_numbers() {
    python3 - "$@" <<'PY'
import re, sys
def shortest(v):
    if v in ("+Inf", "-Inf", "NaN"): return True
    f = float(v)
    return v == repr(f) or (f.is_integer() and v == str(int(f)))
bad = []
for path in sys.argv[1:]:
    for line in open(path):
        if line.startswith("#") or not line.strip(): continue
        les = re.findall(r'le="([^"]*)"', line)
        bad += [(path, line.strip()) for v in [line.split()[-1]] + les if not shortest(v)]
if bad:
    print("\n".join(f"{p}: {l}" for p, l in bad[:10]), file=sys.stderr)
    sys.exit(1)
PY
}
shortest_numbers "$TMP/queue.prom" "$TMP/worker.prom" || fail "metrics numbers are not in their shortest form"
aged=$("$WFQ" enqueue aged '{}' --queue metrics-age --run-at "$(date -u -d '-25 seconds' +%Y-%m-%dT%H:%M:%S.293Z)")
"$WFQ" metrics > "$TMP/aged.prom"
"$WFQ" jobs cancel "$aged" > /dev/null
age=$(awk '$1 == "wfq_oldest_pending_job_age_seconds" { print $2 }' "$TMP/aged.prom")
python3 -c "import sys; a = float(sys.argv[1]); sys.exit(0 if 20 < a < 120 else 1)" "$age" || fail "oldest pending age: $age"
shortest_numbers "$TMP/aged.prom" || fail "the oldest pending age is not in its shortest form"
pass "promtool accepts wfq metrics and the --metrics-file; values match the staged jobs; numbers in their shortest form"

why() { "$WFQ" why "$1" --json | jq_field "d['reason']"; }
[ "$(why "$id")" = completed ] || fail "why completed"
[ "$(why "$bad")" = failed ] || fail "why failed"
later=$("$WFQ" enqueue later '{}' --delay 1h)
[ "$(why "$later")" = scheduled ] || fail "why scheduled"
"$WFQ" jobs cancel "$later" > /dev/null
[ "$(why "$later")" = cancelled ] || fail "why cancelled"
orphan=$("$WFQ" enqueue orphan '{}' --queue nobody)
[ "$(why "$orphan")" = no_live_worker ] || fail "why no_live_worker: $(why "$orphan")"
flaky=$("$WFQ" enqueue flaky '{}')
"$WFQ" process --type flaky --max-jobs 1 --retry-preset heavy_task --exec false 2> /dev/null
[ "$(why "$flaky")" = backing_off ] || fail "why backing_off"
contains "$("$WFQ" why "$flaky")" "after attempt 1"
# A worker busy with a lock-key holder: another job of that key is blocked, a plain one is ready.
holder=$("$WFQ" enqueue hold '{}' --queue busy --lock-key pr:1)
"$WFQ" process --queue busy --concurrency 1 --exec sh -c 'touch '"$TMP/holding"'; while [ ! -e '"$TMP/release"' ]; do sleep 0.05; done' 2> /dev/null &
worker=$!
wait_for 20 test -e "$TMP/holding"
blocked=$("$WFQ" enqueue hold '{}' --queue busy --lock-key pr:1)
ready=$("$WFQ" enqueue plain '{}' --queue busy)
[ "$(why "$holder")" = running ] || fail "why running"
[ "$(why "$blocked")" = blocked_by_lock_key ] || fail "why blocked_by_lock_key: $(why "$blocked")"
contains "$("$WFQ" why "$blocked")" "held by job $holder"
[ "$(why "$ready")" = ready ] || fail "why ready: $(why "$ready")"
expect_exit 0 "$WFQ" doctor
touch "$TMP/release"
kill -TERM "$worker"
expect_wait 0 "$worker" "the busy queue's worker after SIGTERM"
# A worker killed mid-job: its lease expires, why says so and doctor reports an error.
stuck=$("$WFQ" enqueue stuck '{}' --queue crash)
"$WFQ" process --queue crash --lease 1s --rescue-interval 0 --exec sleep 60 2> /dev/null &
victim=$!
wait_for 20 sh -c "[ \"\$('$WFQ' why $stuck --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"reason\"])')\" = running ]"
kill -KILL "$victim"
expect_wait 137 "$victim" "the SIGKILLed worker"
wait_for 10 sh -c "[ \"\$('$WFQ' why $stuck --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"reason\"])')\" = lease_expired ]"
expect_exit 1 "$WFQ" doctor --json
echo "$OUT" | jq_field "[(f['severity'], f['fix']) for f in d if f['check'] == 'stuck_jobs']" | grep "error" | grep "wfq rescue" > /dev/null || fail "doctor: $OUT"
wait_rescuable "$stuck"  # M (1 s) past its lease's expiry
expect_exit 0 "$WFQ" rescue
contains "$ERR" "rescued 1 job (1 back to pending, 0 failed"
expect_exit 0 "$WFQ" rescue
contains "$ERR" "rescued 0 jobs"
expect_exit 0 "$WFQ" doctor
expect_exit 4 "$WFQ" why 999999
pass "why gives completed, failed, scheduled, cancelled, no_live_worker, backing_off, running, blocked_by_lock_key, ready and lease_expired from real situations; doctor exits 1 on a stuck job and 0 once rescued"

TRACEPARENT=$TP "$WFQ" --otlp-file "$TMP/lock.jsonl" lock run traced-lock -- true
python3 -c "
import json, sys
spans = [s for l in open('$TMP/lock.jsonl') for s in json.loads(l)['resourceSpans'][0]['scopeSpans'][0]['spans']]
s = [x for x in spans if x['name'] == 'lock wait traced-lock'][0]
assert s['traceId'] == '$TP'.split('-')[1] and s['status']['code'] == 1, s
assert any(a['key'] == 'wfq.lock.token' for a in s['attributes']), s" || fail "lock wait span"
pass "lock run records its wait as a span in the caller's trace"
