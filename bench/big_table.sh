#!/bin/bash
# Builds a big jobs table and times the read commands on it (issue 14: scale past one box).
# usage: pg_virtualenv -o fsync=off bench/big_table.sh [FINISHED_JOBS] [PENDING_JOBS]
# Uses the release build (build/release/cli/wfq) and a schema of its own, wfq_big (WFQ_SCHEMA),
# dropped and rebuilt first unless BIG_TABLE_KEEP=1 and it already holds the jobs.
# The finished jobs are spread over the last 30 days (so the last hour and minute hold some):
# 98.9% completed, 1% failed, 0.1% cancelled, 5 types, 4 queues. BIG_TABLE_MIX changes that:
# `completed` (all of them), `failed`, `cancelled` or `pending` (the first BIG_TABLE_SPECIAL,
# default 1,000,000, of the rows are in that state, due, the rest completed: a dead letter, a
# bulk-cancelled backlog, a backlog), e.g. BIG_TABLE_MIX=cancelled bench/big_table.sh 1000000. They are loaded with COPY from
# a generated stream; the jobs table's secondary indexes are dropped for the load and rebuilt
# from their own definitions after it (much faster than maintaining them row by row).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
WFQ=${WFQ:-$here/build/release/cli/wfq}
FINISHED=${1:-10000000}; PENDING=${2:-10000}
MIX=${BIG_TABLE_MIX:-default}; SPECIAL=${BIG_TABLE_SPECIAL:-1000000}
case $MIX in default|completed|failed|cancelled|pending) ;; *) echo "BIG_TABLE_MIX: default, completed, failed, cancelled or pending" >&2; exit 2 ;; esac
export WFQ_DB=${WFQ_DB:-postgresql://} WFQ_SCHEMA=${WFQ_SCHEMA:-wfq_big}
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

have=$(psql_q -At -c "SELECT COUNT(*) FROM pg_namespace WHERE nspname = '$WFQ_SCHEMA'")
if [ "${BIG_TABLE_KEEP:-0}" != 1 ] || [ "$have" = 0 ]; then
    psql_q -c "SET client_min_messages TO warning; DROP SCHEMA IF EXISTS \"$WFQ_SCHEMA\" CASCADE"
    "$WFQ" migrate > /dev/null 2>&1
    s=$(date +%s)
    defs=$(psql_q -At -c "SELECT string_agg(pg_get_indexdef(indexrelid), '; ') FROM pg_index
                          WHERE indrelid = '\"$WFQ_SCHEMA\".jobs'::regclass AND NOT indisprimary")
    psql_q -c "SET search_path TO \"$WFQ_SCHEMA\"; DO \$\$ DECLARE r record; BEGIN
               FOR r IN SELECT indexrelid::regclass AS name FROM pg_index
                        WHERE indrelid = 'jobs'::regclass AND NOT indisprimary LOOP
                 EXECUTE 'DROP INDEX ' || r.name; END LOOP; END \$\$"
    now=$(psql_q -At -c "SELECT (extract(epoch from now()) * 1000)::bigint")
    # id, type, queue, payload, priority, run_at, state, attempt, max_attempts, correlation_id,
    # created_at, updated_at, started_at, finished_at, lease_owner, error_class, last_error
    awk -v n="$FINISHED" -v now="$now" -v mix="$MIX" -v special="$SPECIAL" 'BEGIN {
        span = 30 * 86400000
        for (i = 1; i <= n; i++) {
            t = now - int((n - i) * (span / n)) - 1000
            st = "completed"; ec = "\\N"; le = "\\N"; sa = sprintf("%.0f", t - 200); fa = sprintf("%.0f", t); lo = "w"
            if (mix == "default") {
                if (i % 1000 == 0) st = "cancelled"
                else if (i % 100 == 0) { st = "failed"; ec = "exit_code"; le = "exit 1" }
            } else if (mix != "completed" && i <= special) {
                st = mix
                if (mix == "failed") { ec = "exit_code"; le = "exit 1" }
                if (mix == "pending") { sa = "\\N"; fa = "\\N"; lo = "\\N" }
            }
            printf "%d\tt%d\tq%d\t{}\t0\t%.0f\t%s\t1\t3\tc%d\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\n",
                   i, i % 5, i % 4, t - 500, st, i, t - 500, t, sa, fa, lo, ec, le
        }
    }' | psql_q -c "\\copy \"$WFQ_SCHEMA\".jobs (id, type, queue, payload, priority, run_at, state, attempt, max_attempts,
                    correlation_id, created_at, updated_at, started_at, finished_at, lease_owner, error_class, last_error) FROM STDIN"
    echo "copied $FINISHED finished jobs in $(( $(date +%s) - s )) s"
    s=$(date +%s)
    psql_q -At -c "SET search_path TO \"$WFQ_SCHEMA\"; $defs; SELECT setval('jobs_id_seq', $FINISHED)" > /dev/null
    echo "rebuilt the indexes in $(( $(date +%s) - s )) s"
    # What autovacuum does on its own after a load (insert threshold): visibility map and stats.
    psql_q -c "VACUUM (ANALYZE) \"$WFQ_SCHEMA\".jobs"
    python3 -c "
import json
for i in range($PENDING): print(json.dumps({'type': 'p', 'payload': {'i': i}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
fi
psql_q -At -c "SELECT 'table ($MIX): ' || COUNT(*) FILTER (WHERE state = 'completed') || ' completed, ' ||
               COUNT(*) FILTER (WHERE state = 'failed') || ' failed, ' || COUNT(*) FILTER (WHERE state = 'cancelled') || ' cancelled, ' ||
               COUNT(*) FILTER (WHERE state = 'pending') || ' pending, ' ||
               pg_size_pretty(pg_total_relation_size('\"$WFQ_SCHEMA\".jobs')) || ' with indexes' FROM \"$WFQ_SCHEMA\".jobs"

failed=$(psql_q -At -c "SELECT MAX(id) FROM \"$WFQ_SCHEMA\".jobs WHERE state = 'failed'")
pending=$(psql_q -At -c "SELECT MIN(id) FROM \"$WFQ_SCHEMA\".jobs WHERE state = 'pending'")
# Each command three times; the median is reported (the first run also warms the cache).
for c in "jobs list" "jobs list --state failed" "jobs list --state cancelled" "jobs list --state pending" \
         "jobs list --type t3" "jobs list --queue q2 --state failed" "jobs list --before $((FINISHED / 2))" \
         "jobs show $failed" "why $failed" "why $pending" "top --once" "queues list" "metrics" "doctor"; do
    times=()
    for _ in 1 2 3; do
        s=$(date +%s%N); "$WFQ" $c > /dev/null 2>&1 || true; e=$(date +%s%N)
        times+=($(( (e - s) / 1000000 )))
    done
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
    printf '%-40s %6s ms  (runs: %s)\n' "$c" "$median" "${times[*]}"
done
