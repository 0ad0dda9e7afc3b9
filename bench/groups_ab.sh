#!/bin/bash
# Group turns' cost where no job has a group: `bench/groups_ab.sh sqlite|postgresql A_WFQ B_WFQ
# [ROUNDS]` runs, for two builds A and B in interleaved pairs (the order flipped each round),
# `wfq bench work --jobs 20000 --concurrency 8` and an NDJSON enqueue of 20,000 jobs without a
# group (`wfq enqueue --ndjson`), each on a fresh database, and prints jobs/s and B/A per pair.
set -euo pipefail
backend=${1:?usage: groups_ab.sh sqlite|postgresql A_WFQ B_WFQ [ROUNDS]}
A=${2:?A_WFQ}
B=${3:?B_WFQ}
ROUNDS=${4:-3}
. "$(dirname "$0")/lib.sh"
python3 -c "
import json
for i in range(20000): print(json.dumps({'type': 'bench', 'payload': {'i': i, 'pr': {'number': i, 'title': 'x' * 40}}}))" > "$TMP/jobs.ndjson"
work() {  # work WFQ NAME: jobs/s of bench work
    WFQ=$1 fresh "$2"
    "$1" bench work --jobs 20000 --concurrency 8 --json 2>/dev/null | python3 -c "import json,sys; print(round(json.load(sys.stdin)['jobs_per_s']))"
}
enqueue() {  # enqueue WFQ NAME: jobs/s of enqueue --ndjson
    WFQ=$1 fresh "$2"
    local s e
    s=$(date +%s%N)
    "$1" enqueue --ndjson "$TMP/jobs.ndjson" > /dev/null 2>&1
    e=$(date +%s%N)
    echo $(( 20000 * 1000000000 / (e - s) ))
}
for r in $(seq 1 "$ROUNDS"); do
    for what in work enqueue; do
        if [ $((r % 2)) = 1 ]; then a=$($what "$A" "a$r$what"); b=$($what "$B" "b$r$what")
        else b=$($what "$B" "b$r$what"); a=$($what "$A" "a$r$what"); fi
        echo "$backend round $r $what: A $a jobs/s, B $b jobs/s, B/A $(python3 -c "print(round($b / $a, 3))")"
    done
done
