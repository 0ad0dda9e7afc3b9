#!/bin/bash
# Admission under many limited keys, for one backend: `bench/admission.sh sqlite` or, for
# PostgreSQL, `pg_virtualenv bench/admission.sh postgresql` (or with PG* set). Uses the release
# build. 20,000 jobs over 1,000 limit keys, each capped at 2 (`wfq limits set 'adm:*'
# --concurrency 2`), in 10 groups (their orgs), worked by one `wfq process --concurrency C
# --stream` whose handler answers each job 50 ms after it arrives (so slots stay taken).
# Prints one JSON line per sample (every 0.5 s): jobs done, claimed, running (in the handler),
# allowed and the slot
# utilisation running / allowed, where allowed = min(C, the sum over keys of min(2, the key's
# unfinished jobs)): what the rules and the worker allow at that moment. Then a summary line
# with jobs/s and the median utilisation. JOBS, KEYS, NGROUPS and C change the shape; KEYS=0 is
# the control: the same jobs, groups and handler without limit keys (allowed = min(C, unfinished)).
set -euo pipefail
backend=${1:-sqlite}
. "$(dirname "$0")/lib.sh"
JOBS=${JOBS:-20000} KEYS=${KEYS:-1000} NGROUPS=${NGROUPS:-10} C=${C:-32}
fresh admission
[ "$KEYS" = 0 ] || "$WFQ" limits set 'adm:*' --concurrency 2 > /dev/null 2>&1
python3 -c "
import json
for i in range($JOBS):
    job = {'type': 'adm', 'org': 'g%d' % (i % $NGROUPS), 'payload': {'i': i}}
    if $KEYS: job['limits'] = ['adm:%d' % (i % max($KEYS, 1))]
    print(json.dumps(job))" \
    | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
if [ "$backend" = postgresql ]; then psql -XAtqc "ANALYZE \"$WFQ_SCHEMA\".jobs"; fi
cat > "$TMP/handler.py" <<'PY'
import json, os, sys, threading
lock = threading.Lock()
inflight = 0
def answer(i):
    global inflight
    with lock:
        sys.stdout.write('{"id": %d, "ok": true}\n' % i)
        sys.stdout.flush()
        inflight -= 1
def report():  # the jobs this handler holds now, for the sampler (every 0.1 s)
    with lock:
        n = inflight
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(n))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    t = threading.Timer(0.1, report); t.daemon = True; t.start()
report()
for line in sys.stdin:
    m = json.loads(line)
    if "id" in m:
        with lock:
            inflight += 1
        threading.Timer(0.05, answer, (m["id"],)).start()
PY
# One sample: done, claimed, allowed (the query reads the jobs table the worker writes);
# running is what the handler holds (a claimed job may still wait in the worker).
cat > "$TMP/sample.sql" <<SQL
SELECT (SELECT count(*) FROM jobs WHERE state = 'completed'),
       (SELECT count(*) FROM jobs WHERE state = 'running'),
       (SELECT coalesce(sum(CASE WHEN limit_keys IS NULL THEN n WHEN n > 2 THEN 2 ELSE n END), 0) FROM
          (SELECT limit_keys, count(*) AS n FROM jobs WHERE state IN ('pending', 'running') GROUP BY limit_keys) k)
SQL
sample() {
    if [ "$backend" = postgresql ]; then
        PGOPTIONS="-c search_path=$WFQ_SCHEMA" psql -XAtq -F ' ' -f "$TMP/sample.sql"
    else
        python3 -c "
import sqlite3, sys
c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True, timeout=5)
print(*c.execute(open(sys.argv[2]).read()).fetchone())" "${WFQ_DB#sqlite:}" "$TMP/sample.sql"
    fi
}
start=$(date +%s%N)
"$WFQ" process --type adm --concurrency "$C" --until-empty --poll 100ms --stream -- python3 "$TMP/handler.py" "$TMP/inflight" 2> "$TMP/worker.log" &
worker=$!
utils=()
while kill -0 "$worker" 2> /dev/null; do
    read -r done_n claimed allowed < <(sample) || break
    running=$(cat "$TMP/inflight" 2> /dev/null || echo 0)
    now=$(date +%s%N)
    [ "$allowed" -gt "$C" ] && allowed=$C
    util=$(python3 -c "print(round($running / $allowed, 2) if $allowed else 1.0)")
    [ "$allowed" -gt 0 ] && utils+=("$util")
    echo "{\"t_s\": $(( (now - start) / 1000000 ))e-3, \"done\": $done_n, \"claimed\": $claimed, \"running\": $running, \"allowed\": $allowed, \"utilisation\": $util}"
    [ "$done_n" -ge "$JOBS" ] && break
    # The sampling interval of a measurement, not a wait for a condition.
    sleep 0.5
done
wait "$worker" || { tail -5 "$TMP/worker.log" >&2; exit 1; }
end=$(date +%s%N)
done_n=$(sample | cut -d' ' -f1)
[ "$done_n" = "$JOBS" ] || { echo "admission: $done_n of $JOBS jobs completed" >&2; exit 1; }
python3 - "$backend" "$JOBS" "$KEYS" "$NGROUPS" "$C" "$(( end - start ))" "${utils[@]}" <<'P'
import json, statistics, sys
backend, jobs, keys, groups, c, ns = sys.argv[1:7]
u = [float(x) for x in sys.argv[7:]]
print(json.dumps({"backend": backend, "jobs": int(jobs), "keys": int(keys), "groups": int(groups), "concurrency": int(c),
                  "jobs_per_s": round(int(jobs) * 1e9 / int(ns)), "utilisation_median": statistics.median(u) if u else None,
                  "utilisation_min": min(u) if u else None, "samples": len(u)}))
P
