#!/bin/bash
# Builds a big jobs table and times the read commands on it (issue: scale past one box).
# usage: pg_virtualenv -o fsync=off bench/big_table.sh [FINISHED_JOBS] [PENDING_JOBS]
# Uses the release build (build/release/cli/wfq) and a schema of its own, wfq_big.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
WFQ=${WFQ:-$here/build/release/cli/wfq}
FINISHED=${1:-10000000}; PENDING=${2:-10000}
export WFQ_DB=${WFQ_DB:-postgresql://} WFQ_SCHEMA=${WFQ_SCHEMA:-wfq_big}
"$WFQ" migrate > /dev/null
# Finished jobs straight from SQL: one statement, no client round trips (1% failed, 4 queues, 5 types).
psql -q -v ON_ERROR_STOP=1 -c "SET search_path TO $WFQ_SCHEMA;
INSERT INTO jobs (type, queue, payload, priority, run_at, state, attempt, max_attempts, correlation_id,
                  created_at, updated_at, started_at, finished_at, lease_owner)
SELECT 't' || (i % 5), 'q' || (i % 4), '{}', 0, 1700000000000 + i,
       CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'completed' END, 1, 3, 'c',
       1700000000000 + i, 1700000000000 + i, 1700000000000 + i, 1700000000000 + i, 'w'
FROM generate_series(1, $FINISHED) i; ANALYZE jobs;"
python3 -c "
import json
for i in range($PENDING): print(json.dumps({'type': 'p', 'payload': {'i': i}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
echo "table: $FINISHED finished, $PENDING pending"
for c in "jobs list" "jobs list --state failed" "why 5" "top --once" "queues list" "metrics" "doctor"; do
    s=$(date +%s%N); "$WFQ" $c > /dev/null 2>&1 || true; e=$(date +%s%N)
    echo "$c: $(( (e - s) / 1000000 )) ms"
done
