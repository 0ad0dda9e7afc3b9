#!/bin/bash
# Claims over a big backlog, for one backend: `bench/backlog.sh sqlite` or, for PostgreSQL,
# `pg_virtualenv bench/backlog.sh postgresql`. Uses the release build. Each case enqueues a
# backlog, analyzes it (PostgreSQL), then times `wfq process --max-jobs 2000 --exec /bin/true`
# (at most 60 s) and prints jobs/s:
#   one_queue    100,000 due jobs in one queue
#   two_queues   100,000 due jobs in two queues, the worker serving both
#   no_backlog   3,000 jobs without a key: the reference for the two cases below
#   lock_key     50,000 jobs of one lock key enqueued before 3,000 without a key (held back
#                out of the claim index: the claim never reads them)
#   limit_rule   the same with a limit key and a concurrency-1 rule (`wfq limits set`)
#   many_keys    20,000 jobs over 1,000 limit keys, each capped at 2 (`--max-jobs 2000`)
# CASES="one_queue lock_key" runs only those.
set -euo pipefail
backend=${1:-sqlite}
. "$(dirname "$0")/lib.sh"
analyze() { if [ "$backend" = postgresql ]; then psql -XAtqc "ANALYZE \"$WFQ_SCHEMA\".jobs"; fi; }
run() {  # name, then process flags
    local name=$1
    shift
    local s e rc=0
    s=$(date +%s%N)
    timeout 60 "$WFQ" process --max-jobs 2000 --concurrency 4 "$@" --exec /bin/true 2> /dev/null || rc=$?
    e=$(date +%s%N)
    if [ "$rc" = 124 ]; then
        echo "$name: stopped at the 60 s limit before 2,000 jobs: fewer than 33 jobs/s"
    else
        echo "$name: $(( 2000 * 1000000000 / (e - s) )) jobs/s"
    fi
}
want() { [ -z "${CASES:-}" ] || [[ " $CASES " == *" $1 "* ]]; }
if want one_queue; then
fresh one_queue
python3 -c "
import json
for i in range(100000): print(json.dumps({'type': 'b', 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run one_queue
fi

if want two_queues; then
fresh two_queues
python3 -c "
import json
for i in range(100000): print(json.dumps({'type': 'b', 'queue': 'q%d' % (i % 2), 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run two_queues --queue q0 --queue q1
fi

if want no_backlog; then
fresh no_backlog
python3 -c "
import json
for i in range(3000): print(json.dumps({'type': 'b', 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run no_backlog
fi

if want lock_key; then
fresh lock_key
python3 -c "
import json
for i in range(50000): print(json.dumps({'type': 'b', 'lock_key': 'repo-1', 'payload': {}}))
for i in range(3000): print(json.dumps({'type': 'b', 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run lock_key
fi

if want limit_rule; then
fresh limit_rule
"$WFQ" limits set repo-1 --concurrency 1
python3 -c "
import json
for i in range(50000): print(json.dumps({'type': 'b', 'limits': ['repo-1'], 'payload': {}}))
for i in range(3000): print(json.dumps({'type': 'b', 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run limit_rule
fi

if want many_keys; then
fresh many_keys
"$WFQ" limits set 'k:*' --concurrency 2
python3 -c "
import json
for i in range(20000): print(json.dumps({'type': 'b', 'limits': ['k:%d' % (i % 1000)], 'org': 'o%d' % (i % 10), 'payload': {}}))" \
    | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run many_keys
fi
