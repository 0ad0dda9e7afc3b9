# `wfq process --statsd HOST:PORT`: each attempt's outcome as a counter and a timing per job
# type and outcome, received by the Etsy StatsD daemon (npm `statsd`, pinned in
# tests/data/statsd/package.json, installed into WFQ_NPM_CACHE), read back through its
# management port; DogStatsD tags with --statsd-format dogstatsd; bad flags exit 2, an
# unresolvable host 78.
# wfq-test: backend-independent
. "$(dirname "$0")/lib.sh"
command -v node > /dev/null || skip "node is not installed (scripts/install-deps.sh installs nodejs)"
command -v npm > /dev/null || skip "npm is not installed"

cache=${WFQ_NPM_CACHE:-/tmp/wfq-npm}/statsd
mkdir -p "$cache"
cp "$WFQ_TEST_DATA/statsd/package.json" "$cache/package.json"
if ! flock "$cache/.lock" sh -c '[ -f "$1/node_modules/statsd/stats.js" ] || (cd "$1" && timeout 300 npm install --no-audit --no-fund > npm.log 2>&1)' sh "$cache"; then
    skip "npm install statsd failed (no registry?): $(tail -3 "$cache/npm.log")"
fi

expect_exit 2 "$WFQ" process --statsd nowhere -- true
contains "$ERR" "--statsd needs a port"
expect_exit 2 "$WFQ" process --statsd 127.0.0.1:8125 --statsd-format xml -- true
contains "$ERR" "--statsd-format"
expect_exit 2 "$WFQ" process --statsd 127.0.0.1:8125 --statsd-tag 'a|b' -- true
contains "$ERR" "--statsd-tag"
expect_exit 2 "$WFQ" process --statsd-tag env:test -- true
contains "$ERR" "--statsd-tag needs --statsd"
expect_exit 78 "$WFQ" process --statsd no-such-host.invalid:8125 -- true
contains "$ERR" "--statsd: cannot resolve no-such-host.invalid"
pass "bad --statsd flags exit 2, an unresolvable host 78"

free_port() { python3 -c 'import socket, sys; s = socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"; }
udp=$(free_port SOCK_DGRAM)
mgmt=$(free_port SOCK_STREAM)
cat > "$TMP/statsd.js" <<JS
{ port: $udp, address: "127.0.0.1", mgmt_port: $mgmt, mgmt_address: "127.0.0.1",
  flushInterval: 3600000, backends: [], dumpMessages: true }
JS
node "$cache/node_modules/statsd/stats.js" "$TMP/statsd.js" > "$TMP/statsd.log" 2>&1 &
statsd=$!
# mgmt COMMAND: what the daemon's management port answers (util.inspect text up to END).
cat > "$TMP/mgmt.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall((sys.argv[2] + "\n").encode())
out = b""
while b"END" not in out and not (sys.argv[2] == "health" and out.endswith(b"\n")):
    chunk = s.recv(65536)
    if not chunk: break
    out += chunk
print(out.decode())
PY
wait_for 30 python3 "$TMP/mgmt.py" "$mgmt" health
# has KIND NAME COUNT: the daemon holds counter NAME at COUNT, or timer NAME with COUNT values.
has() {
    python3 - "$TMP/mgmt.py" "$mgmt" "$@" <<'PY'
import re, subprocess, sys
mgmt, port, kind, name, want = sys.argv[1:]
text = subprocess.run([sys.executable, mgmt, port, kind], capture_output=True, text=True).stdout
if kind == "counters":
    got = dict(re.findall(r"'?([A-Za-z0-9_.;=\-]+)'?: ([0-9.]+)", text))
    sys.exit(0 if got.get(name) == want else 1)
timers = dict(re.findall(r"'?([A-Za-z0-9_.;=\-]+)'?: \[([^\]]*)\]", text))
values = [v for v in timers.get(name, "").replace("\n", " ").split(",") if v.strip()]
sys.exit(0 if str(len(values)) == want else 1)
PY
}

cat > "$TMP/handler.sh" <<'SH'
#!/bin/sh
cat > /dev/null
[ "$WFQ_JOB_TYPE" = bad ] && exit 65
echo '{}'
SH
chmod +x "$TMP/handler.sh"
for i in 1 2 3; do "$WFQ" enqueue good '{}' > /dev/null; done
"$WFQ" enqueue bad '{}' > /dev/null
"$WFQ" enqueue 'with.dot' '{}' > /dev/null
"$WFQ" process --until-empty --poll 100ms --statsd "127.0.0.1:$udp" -- "$TMP/handler.sh" 2> "$TMP/worker.log" || { tail "$TMP/worker.log"; fail "process --statsd"; }
wait_for 20 has counters wfq.jobs.good.completed 3
wait_for 20 has counters wfq.jobs.bad.failed 1
wait_for 20 has counters wfq.jobs.with_dot.completed 1
wait_for 20 has timers wfq.job_duration.good.completed 3
wait_for 20 has timers wfq.job_duration.bad.failed 1
grep -q 'wfq.jobs.good.completed:1|c' "$TMP/statsd.log" || fail "statsd did not log the counter line: $(tail "$TMP/statsd.log")"
pass "statsd received a counter and a timing per type and outcome"

for i in 1 2; do "$WFQ" enqueue tagged '{}' > /dev/null; done
"$WFQ" process --until-empty --poll 100ms --statsd "127.0.0.1:$udp" --statsd-format dogstatsd --statsd-tag env:test \
    -- "$TMP/handler.sh" 2> "$TMP/worker2.log" || { tail "$TMP/worker2.log"; fail "process --statsd dogstatsd"; }
# The daemon keeps DogStatsD tags in the key: name;tag=value;...
wait_for 20 has counters 'wfq.jobs;type=tagged;outcome=completed;env=test' 2
wait_for 20 has timers 'wfq.job_duration;type=tagged;outcome=completed;env=test' 2
grep -q 'wfq.jobs:1|c|#type:tagged,outcome:completed,env:test' "$TMP/statsd.log" || fail "no DogStatsD line: $(tail "$TMP/statsd.log")"
pass "DogStatsD tags: type, outcome and the --statsd-tag ones"

kill "$statsd"; wait "$statsd" 2> /dev/null || true
