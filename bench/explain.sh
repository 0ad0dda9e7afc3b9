#!/bin/bash
# EXPLAIN (ANALYZE, BUFFERS) of the statements wfq really runs, with their real parameters, on
# the big table bench/big_table.sh builds (schema wfq_big): auto_explain logs every statement's
# plan to the server log while a worker claims, completes, rescues and prunes, and the read
# commands run; the plans are then cut out of the log.
# usage: PG_LOG=/path/to/postgresql.log bench/explain.sh > bench/explain-10m.txt
#        (PG_LOG defaults to pg_current_logfile() under the data directory; needs a superuser,
#        since auto_explain is loaded per session through PGOPTIONS)
# The worker touches the data: it runs 40 of the pending jobs and, as it starts, prunes finished
# jobs older than 30 days (the oldest of the data set, once it is a little older than 30 days:
# run bench/big_table.sh a minute or more before); `jobs prune` (the cron command) does the same.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
WFQ=${WFQ:-$here/build/release/cli/wfq}
export WFQ_DB=${WFQ_DB:-postgresql://} WFQ_SCHEMA=${WFQ_SCHEMA:-wfq_big}
log=${PG_LOG:-$(psql -XAtc "SELECT current_setting('data_directory') || '/' || pg_current_logfile()")}
[ -r "$log" ] || { echo "cannot read the server log '$log' (set PG_LOG)" >&2; exit 1; }
from=$(($(stat -c %s "$log") + 1))
export PGOPTIONS="-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0
  -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on -c auto_explain.log_timing=on
  -c auto_explain.log_nested_statements=on"
failed=$(psql -XAtc "SELECT MAX(id) FROM \"$WFQ_SCHEMA\".jobs WHERE state = 'failed'")
[ -n "$failed" ] || failed=$(psql -XAtc "SELECT MIN(id) FROM \"$WFQ_SCHEMA\".jobs")  # a mix without failed jobs
step() { echo "=== $*" >> /tmp/wfq-explain-steps.$$; "$WFQ" "$@" > /dev/null 2>&1 || true; }
: > /tmp/wfq-explain-steps.$$
step enqueue explain_probe '{}'
step process --max-jobs 40 --concurrency 4 --retention 30d --rescue-interval 1s --exec true
step jobs prune --older-than 30d
step jobs list
step jobs list --state failed
step jobs list --state failed --queue q2
step jobs list --state running
step jobs list --state completed
step jobs list --error-class timeout
step jobs list --state waiting
step jobs list --state cancelled
step jobs list --state retrying
step jobs list --state scheduled
step jobs list --queue nosuch
step jobs list --older-than 1d
step jobs list --older-than 7d
step jobs list --newer-than 1h
step jobs show "$failed"
step why "$failed"
step queues list
step top --once
step metrics
step doctor
step limits list
unset PGOPTIONS
sleep 1  # the server writes the log asynchronously
echo "# Plans of wfq's statements at $(psql -XAtc "SELECT to_char(COUNT(*), 'FM999,999,999') || ' jobs' FROM \"$WFQ_SCHEMA\".jobs")"
echo "# Commands run, in order:"; sed 's/^=== /#   wfq /' /tmp/wfq-explain-steps.$$; rm -f /tmp/wfq-explain-steps.$$
echo
# Each plan: from its "duration: ... plan:" line to the next log line prefix; trivial statements
# (SET, BEGIN, the clock) are left out.
tail -c +"$from" "$log" | awk '
    /LOG:  duration: .* plan:/ { if (buf != "" && keep) print buf "\n"; buf = $0; keep = 1; inplan = 1; next }
    /^[0-9]{4}-[0-9]{2}-[0-9]{2} / { if (inplan) { if (keep) print buf "\n"; buf = ""; inplan = 0 } next }
    inplan { buf = buf "\n" $0; if ($0 ~ /Query Text: (SELECT wfq_now_ms\(\)|SET |BEGIN|COMMIT|SELECT 1$|SELECT current_setting)/) keep = 0 }
    END { if (inplan && keep) print buf }'
