#!/bin/bash
# Soak: a steady stream of jobs through workers that prune their history, for SOAK_MINUTES
# (default 10), on PostgreSQL (issue 14: "a table that stays small").
# usage: pg_virtualenv -o fsync=off bench/soak.sh     (fsync off: the figures are about table
#        size and vacuum, not the disk; any PostgreSQL reachable through WFQ_DB / PG* works)
# Env: SOAK_MINUTES (10), SOAK_RATE jobs/s (2000), SOAK_WORKERS (2), SOAK_RETENTION (1m),
#      WFQ (build/release/cli/wfq), WFQ_SCHEMA (wfq_soak; dropped and migrated first).
# An enqueuer writes SOAK_RATE NDJSON lines a second, in tenths of a second, into
# `wfq enqueue --ndjson -` (one transaction per tenth); SOAK_WORKERS `wfq process --stream
# --retention` workers run wfq's own no-op stream handler. Over the second minute and over the
# last one, every second, it samples the jobs table's size with its indexes
# (pg_total_relation_size) and its dead and live rows (pg_stat_user_tables); every 5 s the p99 of started_at - created_at (enqueue to
# start, database clock) of the jobs enqueued in the minute before.
# The server should have autovacuum_naptime=10s (README, "Retention"). Each figure is the mean of
# its window's samples (dead rows rise and fall with each autovacuum; one reading says little);
# the script prints both windows and whether each figure stayed within 20%, and exits 1 if not.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
WFQ=${WFQ:-$here/build/release/cli/wfq}
MINUTES=${SOAK_MINUTES:-10}; RATE=${SOAK_RATE:-2000}; WORKERS=${SOAK_WORKERS:-2}; RETENTION=${SOAK_RETENTION:-1m}
export WFQ_DB=${WFQ_DB:-postgresql://} WFQ_SCHEMA=${WFQ_SCHEMA:-wfq_soak}
[ "$MINUTES" -ge 2 ] || { echo "SOAK_MINUTES must be at least 2" >&2; exit 2; }
logs=${SOAK_LOGS:-$(mktemp -d /tmp/wfq-soak.XXXXXX)}  # worker and enqueuer logs
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_q -c "DROP SCHEMA IF EXISTS \"$WFQ_SCHEMA\" CASCADE" 2> /dev/null
"$WFQ" migrate > /dev/null 2>&1

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    wait 2> /dev/null || true
}
trap cleanup EXIT
for w in $(seq "$WORKERS"); do
    "$WFQ" process --stream --concurrency 64 --retention "$RETENTION" --log-level warn \
        -- "$WFQ" __stream-echo 2> "$logs/worker-$w.log" &
    pids+=($!)
done
python3 -u -c "
import sys, time
rate, tick = $RATE, 0.1
per = rate * tick
start = time.monotonic(); sent = 0; n = 0
while True:
    n += 1
    due = int(per * n) - sent
    sys.stdout.write(''.join('{\"type\":\"soak\",\"payload\":{\"i\":%d}}\n' % (sent + k) for k in range(due)))
    sys.stdout.flush()
    sent += due
    time.sleep(max(0.0, start + n * tick - time.monotonic()))
" 2> /dev/null | "$WFQ" enqueue --ndjson - --batch-size "$(( RATE / 10 ))" > /dev/null 2> "$logs/enqueue.log" &
pids+=($!)

sample() {  # every second: L size_bytes dead_rows live_rows; every fifth also: H p99_ms done_last_minute due_pending
    local heavy=$1
    psql_q -At -F ' ' -c "SET search_path TO \"$WFQ_SCHEMA\";
      SELECT 'L', pg_total_relation_size('jobs'), n_dead_tup, n_live_tup
      FROM pg_stat_user_tables WHERE relid = 'jobs'::regclass"
    [ "$heavy" = 1 ] || return 0
    psql_q -At -F ' ' -c "SET search_path TO \"$WFQ_SCHEMA\";
      SELECT 'H', (SELECT round(COALESCE(percentile_cont(0.99) WITHIN GROUP (ORDER BY started_at - created_at), 0)::numeric, 1)
                FROM jobs WHERE created_at >= wfq_now_ms() - 60000 AND started_at IS NOT NULL),
             (SELECT COUNT(*) FROM jobs WHERE state = 'completed' AND finished_at >= wfq_now_ms() - 60000),
             (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND run_at <= wfq_now_ms())"
}
# A window: 60 samples of size and rows 1 s apart (dead rows are a sawtooth between autovacuum
# runs, 10-20 s apart with autovacuum_naptime=10s: sampled every 5 s, the mean depended on where
# the samples fell in it), and 12 of the latency and counts, 5 s apart; then their means, and
# the highest dead-row count seen.
window() {
    local label=$1 s=() i
    for i in $(seq 0 59); do
        s+=("$(sample $(( i % 5 == 0 )))"); sleep 1
    done
    printf '%s\n' "${s[@]}" | awk -v l="$label" '
        $1 == "L" { nl++; size += $2; dead += $3; live += $4; if ($3 > m) m = $3 }
        $1 == "H" { nh++; p99 += $2; done_ += $3; due += $4 }
        END { printf "%s %.0f %.0f %.0f %.1f %.0f %.0f %.0f\n", l, size/nl, dead/nl, live/nl, p99/nh, done_/nh, due/nh, m }'
}
started=$(date +%s)
sleep 60
first=$(window "minute 2")
wait_s=$(( (MINUTES - 1) * 60 - ($(date +%s) - started) ))
[ "$wait_s" -le 0 ] || sleep "$wait_s"
last=$(window "minute $(( ($(date +%s) - started) / 60 + 1 ))")
for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
wait 2> /dev/null || true
pids=()
echo "logs in $logs"
echo "soak: $RATE jobs/s for $MINUTES min, $WORKERS workers, --retention $RETENTION (means of 60 samples 1 s apart; latency and counts: 12, 5 s apart)"
printf '%-10s %12s %10s %10s %8s %12s %8s %10s\n' window table_bytes dead_rows live_rows p99_ms done_per_min due_now max_dead
printf '%-10s %12s %10s %10s %8s %12s %8s %10s\n' $(echo "$first" | sed 's/^minute /minute_/') \
    $(echo "$last" | sed 's/^minute /minute_/')
echo "$first;$last" | awk -F';' '{
    split($1, a, " "); split($2, b, " "); bad = 0
    n[3] = "table_bytes"; n[4] = "dead_rows"; n[5] = "live_rows"; n[6] = "p99_ms"
    for (i = 3; i <= 6; i++) {
        d = a[i] == 0 ? (b[i] == 0 ? 0 : 1) : (b[i] - a[i]) / a[i]
        ok = (d <= 0.2 && d >= -0.2)
        printf "%s: %+.1f%% %s\n", n[i], 100 * d, ok ? "ok" : "OVER 20%"
        if (!ok) bad = 1
    }
    exit bad }'
