#!/bin/bash
# Queue benchmarks for one backend: run as `bench/queue.sh sqlite` or, for PostgreSQL,
# `pg_virtualenv bench/queue.sh postgresql`. Uses the release build. Prints one line per figure.
set -euo pipefail
backend=${1:-sqlite}
. "$(dirname "$0")/lib.sh"
N=${N:-100000}
python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'bench', 'payload': {'i': i, 'pr': {'number': i, 'title': 'x' * 40}}}))" > "$TMP/jobs.ndjson"

fresh ndjson
s=$(date +%s%N)
"$WFQ" enqueue --ndjson "$TMP/jobs.ndjson" > /dev/null 2>&1
e=$(date +%s%N)
echo "enqueue --ndjson: $N jobs in $(( (e - s) / 1000000 )) ms = $(( N * 1000000000 / (e - s) )) jobs/s"

fresh lib; "$WFQ" bench enqueue --jobs "$N"
fresh work; "$WFQ" bench work --jobs 20000 --concurrency 8
fresh latency; "$WFQ" bench latency --samples 300
fresh locks; "$WFQ" bench locks --jobs 5000
fresh locks4; "$WFQ" bench locks --jobs 1000 --processes 4
# Checkpoint storage and timings over the review-context fixtures kept in the repository.
for size in typical large; do fresh "state_$size"; "$WFQ" bench state --fixtures "$here/../tests/data/review-context/$size"; done

fresh exec
M=2000
head -n $M "$TMP/jobs.ndjson" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
s=$(date +%s%N)
"$WFQ" process --until-empty --concurrency 2 --queue default --exec /bin/true 2>/dev/null
e=$(date +%s%N)
echo "process --exec /bin/true (concurrency 2): $M jobs in $(( (e - s) / 1000000 )) ms = $(( M * 1000000000 / (e - s) )) jobs/s"
"$WFQ" bench spawn --jobs $M --concurrency 2
# The same inside one process, spawn rate first: the ratio is the goal (>= 0.8). It depends on
# the concurrency: on 2 cores the database's share of the machine weighs most at 2 and 4.
for c in 1 2 4 8; do fresh "exec$c"; "$WFQ" bench exec --jobs $((M * 3)) --concurrency $c; done

# Stream handlers at concurrency 32: the Python example (goal >= 15,000 jobs/s) and wfq's C++
# line-echo no-op (the ceiling).
fresh stream_py; "$WFQ" bench stream --jobs 30000 --concurrency 32 -- python3 "$here/../examples/handlers/stream_handler.py"
fresh stream_echo; "$WFQ" bench stream --jobs 30000 --concurrency 32

s=$(date +%s%N)
for i in $(seq 1 100); do "$WFQ" enqueue one '{}' > /dev/null; done
e=$(date +%s%N)
echo "one wfq enqueue process, start to exit: $(( (e - s) / 100000 / 1000 )).$(( (e - s) / 100000 % 1000 / 100 )) ms (mean of 100)"

"$WFQ" process --concurrency 8 --exec sleep 1 2>/dev/null &
pid=$!
for i in $(seq 1 8); do "$WFQ" enqueue rss '{}' > /dev/null; done
sleep 0.5
echo "process --concurrency 8 with 8 running handlers: RSS $(awk '/VmRSS/ {print $2}' /proc/$pid/status) kB"
kill -TERM $pid; wait $pid || true
