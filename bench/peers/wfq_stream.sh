#!/bin/bash
# wfq's stream case of the peer benchmark: the Node stream example, as users copy it, working N
# no-op jobs at concurrency C, run right beside graphile-worker batched at the same concurrency
# (run.sh interleaves the pair, so the ratio compares one moment of this machine).
# usage: wfq_stream.sh WFQ_BINARY N C ROUND   -> one JSON line on stdout (NODE: the peers' node)
set -eu
WFQ=$1; N=$2; C=$3; ROUND=${4:-1}
EXAMPLES=$(cd "$(dirname "$0")/../../examples/handlers" && pwd)
export WFQ_DB=${DATABASE_URL:-postgresql://} WFQ_SCHEMA=peerbench_stream_${C}_$ROUND
"$WFQ" migrate >/dev/null 2>&1
python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'noop', 'payload': {'i': i}}))" | "$WFQ" enqueue --ndjson - >/dev/null 2>&1
s=$(date +%s%N)
"$WFQ" process --until-empty --concurrency "$C" --stream -- "${NODE:-node}" "$EXAMPLES/stream_handler.js" 2>/dev/null
e=$(date +%s%N)
done_n=$("$WFQ" jobs list --state completed --limit 0 --json 2>/dev/null | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
[ "$done_n" = "$N" ] || { echo "wfq_stream.sh: $done_n of $N jobs completed" >&2; exit 1; }
echo "{\"system\": \"wfq stream node\", \"jobs\": $N, \"concurrency\": $C, \"round\": $ROUND, \"work_per_s\": $(( N * 1000000000 / (e - s) ))}"
