# OTLP export against a collector that misbehaves (tests/data/otel/fault_collector.py): 400 is
# not retried and its spans are counted dropped; 429 waits as Retry-After says; 503 and answers
# that are not HTTP are retried with backoff; a collector that takes 10 s per request or is down
# costs the worker no jobs, fills the bounded queue (drops counted in /metrics), and the worker
# still exits within the shutdown deadline, saying once what it dropped.
# wfq-test: backend-independent
. "$(dirname "$0")/lib.sh"

cat > "$TMP/handler.sh" <<'SH'
#!/bin/sh
cat > /dev/null
echo '{}'
SH
chmod +x "$TMP/handler.sh"
http_get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
completed() { "$WFQ" jobs list --state completed --limit 1000 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
completed_is() { [ "$(completed)" = "$1" ]; }

echo ok > "$TMP/mode"
python3 "$WFQ_TEST_DATA/otel/fault_collector.py" "$TMP/mode" "$TMP/requests" "$TMP/port" &
wait_for 20 test -s "$TMP/port"
# Only the workers export (an enqueue's producer span would be a request of its own).
otel="OTEL_BSP_SCHEDULE_DELAY=100 OTEL_BSP_MAX_QUEUE_SIZE=16"
env $otel OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")" "$WFQ" process --metrics-listen 127.0.0.1:0 --lease 3s --poll 100ms -- "$TMP/handler.sh" 2> "$TMP/worker.log" &
worker=$!
wait_for 20 grep -q "serving metrics" "$TMP/worker.log"
url=$(sed -n 's/.*serving metrics url=\(http[^ ]*\).*/\1/p' "$TMP/worker.log" | head -1)
# metric NAME REASON: the worker's counter (REASON: the dropped counter's label).
metric() {
    http_get "$url" | python3 -c '
import re, sys
name, reason = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    if line.startswith(name + "{") and (not reason or "reason=\"%s\"" % reason in line):
        print(line.split()[-1]); break' "$1" "${2:-}"
}
is() { [ "$(metric "$1" "${3:-}")" = "$2" ]; }
requests() { grep -c " $1 " "$TMP/requests" 2> /dev/null || true; }

"$WFQ" enqueue t '{}' > /dev/null
wait_for 20 is wfq_otlp_spans_exported_total 2
pass "a healthy collector receives the consumer and claim spans"

echo status 400 > "$TMP/mode"
"$WFQ" enqueue t '{}' > /dev/null
wait_for 20 is wfq_otlp_spans_dropped_total 2 export_failed
[ "$(requests status_400)" = 1 ] || fail "400 was retried: $(cat "$TMP/requests")"
[ "$(grep -c 'OTLP export failed' "$TMP/worker.log")" = 1 ] || fail "not one log line: $(cat "$TMP/worker.log")"
contains "$(cat "$TMP/worker.log")" "HTTP 400"
pass "400: not retried, the batch counted dropped, one log line"

echo status 429 2 > "$TMP/mode"
"$WFQ" enqueue t '{}' > /dev/null
wait_for 20 grep -q status_429 "$TMP/requests"
echo ok > "$TMP/mode"
wait_for 20 is wfq_otlp_spans_exported_total 4
python3 - "$TMP/requests" <<'PY' || fail "Retry-After not honoured: $(cat "$TMP/requests")"
import sys
lines = [l.split() for l in open(sys.argv[1])]
i = max(n for n, l in enumerate(lines) if l[1] == "status_429_2")
assert float(lines[i + 1][0]) - float(lines[i][0]) >= 1.9, lines
PY
grep -q "OTLP export recovered" "$TMP/worker.log" || fail "no recovery line"
pass "429 with Retry-After: 2 is retried after 2 s, then delivered"

echo status 503 > "$TMP/mode"
"$WFQ" enqueue t '{}' > /dev/null
wait_for 20 sh -c "[ \$(grep -c status_503 '$TMP/requests') -ge 2 ]"
echo ok > "$TMP/mode"
wait_for 30 is wfq_otlp_spans_exported_total 6
pass "503 is retried with backoff, then delivered"

echo garbage > "$TMP/mode"
"$WFQ" enqueue t '{}' > /dev/null
wait_for 20 sh -c "[ \$(grep -c garbage '$TMP/requests') -ge 2 ]"
echo ok > "$TMP/mode"
wait_for 30 is wfq_otlp_spans_exported_total 8
[ "$(completed)" = 5 ] || fail "jobs lost"
pass "an answer that is not HTTP is retried, then delivered"

# 10 s per request: the jobs do not wait for the exporter; the queue (16) overflows and counts.
echo slow 10 > "$TMP/mode"
start=$(date +%s)
for i in $(seq 20); do "$WFQ" enqueue t '{}' > /dev/null; done
wait_for 30 completed_is 25
took=$(( $(date +%s) - start ))
[ "$took" -lt 10 ] || fail "20 jobs took ${took}s against a collector taking 10 s per request"
dropped=$(metric wfq_otlp_spans_dropped_total queue_full)
[ "$dropped" -gt 0 ] || fail "no span dropped from a queue of 16: $(http_get "$url" | grep otlp)"
[ "$(grep -c 'OTLP span queue full' "$TMP/worker.log")" = 1 ] || fail "not one queue-full line"
pass "a collector taking 10 s per request: 20 jobs in ${took}s, $dropped spans dropped from the full queue and counted"
start=$(date +%s%N)
kill -TERM "$worker"
expect_wait 0 "$worker" "worker" "$TMP/worker.log"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt "$(bound_ms 9000)" ] || fail "the worker took ${ms} ms to exit (shutdown deadline 5 s)"
grep -q "OTLP export dropped spans" "$TMP/worker.log" || fail "no summary line: $(tail -5 "$TMP/worker.log")"
pass "the worker exits in ${ms} ms with its collector stuck, saying what it dropped"

# A collector that is down.
env $otel OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(free_port)" "$WFQ" process --lease 3s --poll 100ms -- "$TMP/handler.sh" 2> "$TMP/worker2.log" &
worker=$!
for i in $(seq 10); do "$WFQ" enqueue t '{}' > /dev/null; done
wait_for 30 completed_is 35
wait_for 20 grep -q "OTLP export failed" "$TMP/worker2.log"
start=$(date +%s%N)
kill -TERM "$worker"
expect_wait 0 "$worker" "worker" "$TMP/worker2.log"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt "$(bound_ms 9000)" ] || fail "the worker took ${ms} ms to exit with its collector down"
[ "$(grep -c 'OTLP export failed' "$TMP/worker2.log")" = 1 ] || fail "not one failure line: $(cat "$TMP/worker2.log")"
grep "OTLP export dropped spans" "$TMP/worker2.log" | grep -q "exported=0" || fail "no summary: $(tail -3 "$TMP/worker2.log")"
pass "a collector that is down: 10 jobs done, one failure line, exit in ${ms} ms"

# A one-shot command does not wait out a dead collector: one attempt at exit, no retries.
start=$(date +%s%N)
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(free_port)" "$WFQ" enqueue t '{}' > /dev/null 2> "$TMP/enqueue.log"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt "$(bound_ms 2000)" ] || fail "wfq enqueue took ${ms} ms with its collector down"
grep -q "dropped_export_failed=1" "$TMP/enqueue.log" || fail "the producer span's drop not said: $(cat "$TMP/enqueue.log")"
pass "wfq enqueue with its collector down exits in ${ms} ms, its span counted dropped"
