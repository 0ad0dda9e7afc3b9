#!/bin/bash
# Fairness between tenants (flow control's groups): `bench/groups_fairness.sh sqlite|postgresql`
# enqueues org A's 2,000 jobs then org B's 100 (NDJSON), works them with `wfq process
# --concurrency 8` and a handler that notes each job's id as it starts, and prints the time, the
# jobs/s, and B's places among the 2,100 starts; then the same jobs without an org (no group:
# first in, first out) for comparison. Uses the release build.
set -euo pipefail
backend=${1:-sqlite}
. "$(dirname "$0")/lib.sh"
run() {  # run NAME A-FIELDS B-FIELDS
    fresh "$1"
    python3 -c "
import json
for i in range(2000): print(json.dumps(dict(type='t', payload={'i': i}, **json.loads('$2'))))" | "$WFQ" enqueue --ndjson - > /dev/null 2> /dev/null
    python3 -c "
import json
for i in range(100): print(json.dumps(dict(type='t', payload={'i': i}, **json.loads('$3'))))" | "$WFQ" enqueue --ndjson - > "$TMP/b.ids" 2> /dev/null
    : > "$TMP/order"
    local s e
    s=$(date +%s%N)
    ORDER="$TMP/order" "$WFQ" process --concurrency 8 --until-empty --exec sh -c 'cat > /dev/null; echo "$WFQ_JOB_ID" >> "$ORDER"' 2> /dev/null
    e=$(date +%s%N)
    python3 -c "
import sys
b = set(open('$TMP/b.ids').read().split())
order = open('$TMP/order').read().split()
places = [i + 1 for i, x in enumerate(order) if x in b]
ms = ($e - $s) / 1e6
print('$backend $1: %d jobs in %.0f ms = %.0f jobs/s; B\'s 100 started at places %d..%d of %d (median %d)'
      % (len(order), ms, len(order) / ms * 1000, places[0], places[-1], len(order), places[len(places) // 2]))"
}
run groups '{"org": "A"}' '{"org": "B"}'
run no_group '{}' '{}'
