#!/bin/bash
# Builds a big jobs table and times every read command on it (issues 14 and 28: reads at scale
# whatever the mix of states).
# usage: bench/big_table.sh [FINISHED_JOBS] [PENDING_JOBS]
#   PostgreSQL (default; WFQ_DB=postgresql://, the PG* variables name the server; fsync off helps
#   the load): a schema of its own, wfq_big (WFQ_SCHEMA).
#   SQLite: BIG_TABLE_BACKEND=sqlite, a database file of its own, $BIG_TABLE_DIR/big.db
#   (default /tmp/wfq-big).
# Uses the release build (build/release/cli/wfq). The table is dropped and rebuilt first unless
# BIG_TABLE_KEEP=1 and it already holds the jobs.
# The finished jobs are spread over the last 30 days (so the last hour and minute hold some):
# 98.9% completed, 1% failed, 0.1% cancelled, 5 types, 4 queues. BIG_TABLE_MIX changes that:
# `completed` (all of them), `failed`, `cancelled` or `pending` (the first BIG_TABLE_SPECIAL,
# default 1,000,000, of the rows are in that state, due, the rest completed: a dead letter, a
# bulk-cancelled backlog, a backlog), e.g. BIG_TABLE_MIX=cancelled bench/big_table.sh 1000000.
# They are loaded from a generated stream (PostgreSQL: COPY; SQLite: .import into a staging
# table, then one INSERT); the jobs table's secondary indexes are dropped for the load and rebuilt
# from their own definitions after it (much faster than maintaining them row by row). Then
# PENDING_JOBS (default 10,000) are enqueued through wfq, with a flow-control rule on one key.
# Each read command runs three times; the median is printed (the first run also warms the cache).
# BIG_TABLE_LOAD_ONLY=1 stops after the load; BIG_TABLE_KEEP=1 then times the commands on it.
# BIG_TABLE_RESTATE=1 keeps a table already loaded and turns it into another mix in place: the
# first BIG_TABLE_SPECIAL rows take the mix's state (with `completed`, back to completed), one
# UPDATE, then VACUUM (ANALYZE) / ANALYZE; far quicker at 10M rows than a new load, e.g.
#   BIG_TABLE_MIX=completed BIG_TABLE_LOAD_ONLY=1 bench/big_table.sh    # once
#   for m in completed failed cancelled pending; do BIG_TABLE_RESTATE=1 BIG_TABLE_MIX=$m bench/big_table.sh; done
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
WFQ=${WFQ:-$here/build/release/cli/wfq}
FINISHED=${1:-10000000}; PENDING=${2:-10000}
MIX=${BIG_TABLE_MIX:-default}; SPECIAL=${BIG_TABLE_SPECIAL:-1000000}
BACKEND=${BIG_TABLE_BACKEND:-postgresql}
case $MIX in default|completed|failed|cancelled|pending) ;; *) echo "BIG_TABLE_MIX: default, completed, failed, cancelled or pending" >&2; exit 2 ;; esac
case $BACKEND in
    postgresql)
        export WFQ_DB=${WFQ_DB:-postgresql://} WFQ_SCHEMA=${WFQ_SCHEMA:-wfq_big}
        jobs="\"$WFQ_SCHEMA\".jobs"
        sql() { psql -X -q -v ON_ERROR_STOP=1 -At -c "$1"; } ;;
    sqlite)
        dir=${BIG_TABLE_DIR:-/tmp/wfq-big}; mkdir -p "$dir"
        db=$dir/big.db; export WFQ_DB=sqlite:$db
        jobs=jobs
        sql() { sqlite3 -batch "$db" "$1"; } ;;
    *) echo "BIG_TABLE_BACKEND: postgresql or sqlite" >&2; exit 2 ;;
esac

# id, type, queue, payload, priority, run_at, state, attempt, max_attempts, correlation_id,
# created_at, updated_at, started_at, finished_at, lease_owner, error_class, last_error
columns="id, type, queue, payload, priority, run_at, state, attempt, max_attempts, correlation_id, created_at, updated_at,
         started_at, finished_at, lease_owner, error_class, last_error"
generate() {
    awk -v n="$FINISHED" -v now="$1" -v mix="$MIX" -v special="$SPECIAL" 'BEGIN {
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
    }'
}

if [ "$BACKEND" = postgresql ]; then
    have=$(sql "SELECT COUNT(*) FROM pg_namespace WHERE nspname = '$WFQ_SCHEMA'")
else
    have=$([ -s "$db" ] && echo 1 || echo 0)
fi
if [ "${BIG_TABLE_RESTATE:-0}" = 1 ] && [ "$have" != 0 ]; then
    [ "$MIX" = default ] && { echo "BIG_TABLE_RESTATE: give BIG_TABLE_MIX" >&2; exit 2; }
    s=$(date +%s)
    # The same columns generate() writes for the state: a finished job's times derive from
    # updated_at (its finished_at); a pending one has none, nor a lease owner.
    to=$MIX
    fin="CASE WHEN '$to' = 'pending' THEN NULL ELSE updated_at END"
    sql "UPDATE $jobs SET state = '$to', error_class = CASE WHEN '$to' = 'failed' THEN 'exit_code' END,
         last_error = CASE WHEN '$to' = 'failed' THEN 'exit 1' END, started_at = $fin - 200, finished_at = $fin,
         lease_owner = CASE WHEN '$to' = 'pending' THEN NULL ELSE 'w' END
         WHERE id <= $SPECIAL AND (state <> '$to' OR ('$to' = 'completed' AND error_class IS NOT NULL))" > /dev/null
    echo "restated the first $SPECIAL jobs as $to in $(( $(date +%s) - s )) s"
    if [ "$BACKEND" = postgresql ]; then sql "VACUUM (ANALYZE) $jobs"; else sql "ANALYZE"; fi
elif [ "${BIG_TABLE_KEEP:-0}" != 1 ] || [ "$have" = 0 ]; then
    s=$(date +%s)
    if [ "$BACKEND" = postgresql ]; then
        sql "SET client_min_messages TO warning; DROP SCHEMA IF EXISTS \"$WFQ_SCHEMA\" CASCADE"
        "$WFQ" migrate > /dev/null 2>&1
        defs=$(sql "SELECT string_agg(pg_get_indexdef(indexrelid), '; ') FROM pg_index
                    WHERE indrelid = '$jobs'::regclass AND NOT indisprimary")
        sql "SET search_path TO \"$WFQ_SCHEMA\"; DO \$\$ DECLARE r record; BEGIN
             FOR r IN SELECT indexrelid::regclass AS name FROM pg_index
                      WHERE indrelid = 'jobs'::regclass AND NOT indisprimary LOOP
               EXECUTE 'DROP INDEX ' || r.name; END LOOP; END \$\$"
        generate "$(sql "SELECT (extract(epoch from now()) * 1000)::bigint")" |
            psql -X -q -v ON_ERROR_STOP=1 -c "\\copy $jobs ($columns) FROM STDIN"
        echo "copied $FINISHED jobs in $(( $(date +%s) - s )) s"
        s=$(date +%s)
        sql "SET search_path TO \"$WFQ_SCHEMA\"; $defs; SELECT setval('jobs_id_seq', $FINISHED)" > /dev/null
        echo "rebuilt the indexes in $(( $(date +%s) - s )) s"
        # What autovacuum does on its own after a load (insert threshold): visibility map and stats.
        sql "VACUUM (ANALYZE) $jobs"
    else
        rm -f "$db" "$db-wal" "$db-shm"
        "$WFQ" migrate > /dev/null 2>&1
        defs=$(sql "SELECT group_concat(sql, '; ') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL")
        sql "SELECT 'DROP INDEX ' || name || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL" | sqlite3 "$db"
        stage=$(echo $columns)
        select=""
        for c in ${stage//,/ }; do select+="${select:+, }NULLIF($c, '\\N')"; done
        generate "$(( $(date +%s%N) / 1000000 ))" > "$dir/load.tsv"
        sqlite3 -batch "$db" <<SQL
.output /dev/null
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
CREATE TEMP TABLE stage ($stage);
.mode tabs
.import $dir/load.tsv stage
INSERT INTO jobs ($stage) SELECT $select FROM stage;
SQL
        rm -f "$dir/load.tsv"
        echo "loaded $FINISHED jobs in $(( $(date +%s) - s )) s"
        s=$(date +%s)
        sql "$defs; ANALYZE"
        echo "rebuilt the indexes in $(( $(date +%s) - s )) s"
    fi
    "$WFQ" limits set 'tenant-*' --concurrency 2 > /dev/null 2>&1
    python3 -c "
import json
for i in range($PENDING): print(json.dumps({'type': 'p', 'payload': {'i': i}, 'limits': ['tenant-' + str(i % 3)]}))" |
        "$WFQ" enqueue --ndjson - > /dev/null 2>&1
fi
sql "SELECT 'table ($BACKEND, $MIX): ' || SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END) || ' completed, ' ||
     SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) || ' failed, ' || SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END) ||
     ' cancelled, ' || SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) || ' pending' FROM $jobs"

[ "${BIG_TABLE_LOAD_ONLY:-0}" = 1 ] && exit 0
first=$(sql "SELECT MIN(id) FROM $jobs")  # the mix's state (default: completed)
pending=$(sql "SELECT MAX(id) FROM $jobs WHERE state = 'pending'")
newest=$(sql "SELECT MAX(id) FROM $jobs")
# Every read command, with every filter of `jobs list`.
commands=(
    "jobs list" "jobs list --state pending" "jobs list --state running" "jobs list --state waiting"
    "jobs list --state completed" "jobs list --state failed" "jobs list --state cancelled"
    "jobs list --state scheduled" "jobs list --state retrying" "jobs list --stuck"
    "jobs list --type t3" "jobs list --queue q2" "jobs list --queue q2 --state failed" "jobs list --queue nosuch"
    "jobs list --error-class timeout" "jobs list --older-than 1d" "jobs list --older-than 7d"
    "jobs list --newer-than 1h" "jobs list --newer-than 1d"
    "jobs list --running-longer-than 1m" "jobs list --before $((newest / 2))"
    "jobs show $first" "why $first" "why $pending" "top --once" "queues list" "metrics" "doctor" "limits list")
# With WFQ_BEFORE=PATH (another build), each command runs with it and with $WFQ in turn, three
# pairs, and both medians are printed: before, after.
median_ms() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
for c in "${commands[@]}"; do
    a=() b=()
    for _ in 1 2 3; do
        if [ -n "${WFQ_BEFORE:-}" ]; then
            s=$(date +%s%N); "$WFQ_BEFORE" $c > /dev/null 2>&1 || true; e=$(date +%s%N)
            b+=($(( (e - s) / 1000000 )))
        fi
        s=$(date +%s%N); "$WFQ" $c > /dev/null 2>&1 || true; e=$(date +%s%N)
        a+=($(( (e - s) / 1000000 )))
    done
    if [ -n "${WFQ_BEFORE:-}" ]; then
        printf '%-40s %6s -> %6s ms  (runs: %s -> %s)\n' "$c" "$(median_ms "${b[@]}")" "$(median_ms "${a[@]}")" "${b[*]}" "${a[*]}"
    else
        printf '%-40s %6s ms  (runs: %s)\n' "$c" "$(median_ms "${a[@]}")" "${a[*]}"
    fi
done
