# `wfq process --metrics-listen ADDR:PORT`: a real Prometheus (Debian's `prometheus`) scrapes the
# worker's /metrics, and the test reads the series back through Prometheus's HTTP query API: the
# worker's counters by outcome, the queue gauges, and no label per job or per key. Bad addresses
# exit 2, an address in use 78.
. "$(dirname "$0")/lib.sh"
command -v prometheus > /dev/null || skip "no prometheus binary (scripts/install-deps.sh installs it)"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }

expect_exit 2 "$WFQ" process --metrics-listen nowhere -- true
contains "$ERR" "--metrics-listen needs a port"
expect_exit 2 "$WFQ" process --metrics-listen 127.0.0.1:70000 -- true
contains "$ERR" "--metrics-listen needs a port between 1 and 65535"

cat > "$TMP/handler.sh" <<'SH'
#!/bin/sh
cat > /dev/null
[ "$WFQ_JOB_TYPE" = bad ] && exit 65
echo '{}'
SH
chmod +x "$TMP/handler.sh"
for i in 1 2 3; do "$WFQ" enqueue good '{}' --key "key-$i" > /dev/null; done
"$WFQ" enqueue bad '{}' > /dev/null

# Port 0: the system picks one, and the log says which.
"$WFQ" process --metrics-listen 127.0.0.1:0 --lease 3s --poll 100ms -- "$TMP/handler.sh" 2> "$TMP/worker.log" &
worker=$!
wait_for 20 grep -q "serving metrics" "$TMP/worker.log"
url=$(sed -n 's/.*serving metrics url=\(http[^ ]*\).*/\1/p' "$TMP/worker.log" | head -1)
port=$(echo "$url" | sed 's|http://127.0.0.1:\([0-9]*\)/metrics|\1|')
[ -n "$port" ] || fail "no port in: $(cat "$TMP/worker.log")"
wait_for 20 sh -c "\"$WFQ\" jobs list --state completed --json | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)) == 3 else 1)'"
# The queue gauges are refreshed every heartbeat (lease/3: 1 s here).
serves() { http_get "$url" | grep -qF "$1"; }
wait_for 20 serves 'wfq_jobs{state="completed",type="good",queue="default"} 3'
# The bad job may fail after the gauges' last refresh: wait for the one that shows it too.
wait_for 20 serves 'wfq_jobs{state="failed",type="bad",queue="default"} 1'
text=$(http_get "$url")
contains "$text" '# TYPE wfq_worker_jobs_total counter'
contains "$text" 'outcome="completed"} 3'
contains "$text" 'outcome="failed"} 1'
contains "$text" 'wfq_worker_jobs_held{'
contains "$text" 'wfq_jobs{state="failed",type="bad",queue="default"} 1'
case "$text" in *key-1*|*job_id*) fail "a label per key or job: $text" ;; esac
pass "/metrics serves the worker's counters and the queue gauges"

expect_exit 78 "$WFQ" process --metrics-listen "127.0.0.1:$port" -- true
contains "$ERR" "--metrics-listen: cannot listen on 127.0.0.1:$port"
pass "an address in use exits 78"

prom_port=$(free_port)
cat > "$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: wfq
    static_configs:
      - targets: ['127.0.0.1:$port']
YML
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
    --web.listen-address="127.0.0.1:$prom_port" > "$TMP/prometheus.log" 2>&1 &
prom=$!
api="http://127.0.0.1:$prom_port/api/v1"
# query EXPR PYTHON-CONDITION: polls Prometheus until the condition on its result vector holds.
query() {
    wait_for 40 python3 - "$api" "$1" "$2" <<'PY'
import json, sys, urllib.parse, urllib.request
api, expr, cond = sys.argv[1:]
r = json.load(urllib.request.urlopen(api + "/query?query=" + urllib.parse.quote(expr), timeout=5))
v = r["data"]["result"]
sys.exit(0 if r["status"] == "success" and eval(cond) else 1)
PY
}
query 'up{job="wfq"}' 'len(v) == 1 and v[0]["value"][1] == "1"'
query 'wfq_worker_jobs_total{job="wfq",outcome="completed"}' 'len(v) == 1 and v[0]["value"][1] == "3"'
query 'wfq_worker_jobs_total{job="wfq",outcome="failed"}' 'len(v) == 1 and v[0]["value"][1] == "1"'
query 'wfq_jobs{job="wfq",state="completed",type="good",queue="default"}' 'len(v) == 1 and v[0]["value"][1] == "3"'
query 'wfq_worker_job_duration_seconds_count{job="wfq"}' 'len(v) == 1 and v[0]["value"][1] == "4"'
pass "Prometheus scraped the worker: counters, gauges and histograms read back through its query API"

# Bounded cardinality: no label names a job or a key, and no label value is one.
python3 - "$api" <<'PY' || fail "unbounded labels"
import json, sys, urllib.request
api = sys.argv[1]
names = json.load(urllib.request.urlopen(api + "/labels", timeout=5))["data"]
assert not set(names) & {"job_id", "id", "key", "lock_key", "correlation_id"}, names
for label in names:
    values = json.load(urllib.request.urlopen(api + "/label/%s/values" % label, timeout=5))["data"]
    assert not any(v.startswith("key-") for v in values), (label, values)
PY
pass "no label per job or key"

kill -TERM "$worker"
expect_wait 0 "$worker" "worker" "$TMP/worker.log"
kill "$prom"; wait "$prom" 2> /dev/null || true
