#!/bin/bash
# Claims over a big backlog, for one backend: `bench/backlog.sh sqlite` or, for PostgreSQL,
# `pg_virtualenv bench/backlog.sh postgresql`. Uses the release build. Each case enqueues a
# backlog, analyzes it (PostgreSQL), then times `wfq process --max-jobs 2000 --exec /bin/true`
# (at most 60 s) and prints jobs/s:
#   one_queue    100,000 due jobs in one queue
#   two_queues   100,000 due jobs in two queues, the worker serving both
#   lock_key     50,000 jobs of one lock key enqueued before 3,000 without a key (a known
#                limit: each claim steps over the busy key's jobs again)
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
fresh one_queue
python3 -c "
import json
for i in range(100000): print(json.dumps({'type': 'b', 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run one_queue

fresh two_queues
python3 -c "
import json
for i in range(100000): print(json.dumps({'type': 'b', 'queue': 'q%d' % (i % 2), 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run two_queues --queue q0 --queue q1

fresh lock_key
python3 -c "
import json
for i in range(50000): print(json.dumps({'type': 'b', 'lock_key': 'repo-1', 'payload': {}}))
for i in range(3000): print(json.dumps({'type': 'b', 'payload': {}}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
analyze
run lock_key
