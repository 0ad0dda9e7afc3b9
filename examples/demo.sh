#!/bin/sh
# wfq's main job on the embedded default (SQLite): enqueue a handful of code-review jobs, one
# of which fails once and is retried, process them with a handler command, show the outcome.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
WFQ=${WFQ:-$here/../build/release/cli/wfq}
# A fresh state directory, so the demo uses the default database path without touching yours.
export XDG_STATE_HOME=$(mktemp -d /tmp/wfq-demo-XXXXXX)
unset WFQ_DB DATABASE_URL 2>/dev/null || true
echo "== database: $XDG_STATE_HOME/wfq/wfq.db (the embedded default)"

echo "== enqueue five review jobs"
for pr in 101 102 103 104; do
    "$WFQ" enqueue code_review "{\"repository\": \"acme/widgets\", \"pullRequest\": {\"number\": $pr}}" \
        --org acme --repo widgets --key "review:acme/widgets#$pr"
done
flaky=$("$WFQ" enqueue code_review '{"repository": "acme/widgets", "pullRequest": {"number": 105}, "flaky": true}' \
    --org acme --repo widgets --priority 10)
echo "$flaky (fails once, then succeeds)"
echo "== enqueue the same PR again: idempotent"
"$WFQ" enqueue code_review '{"repository": "acme/widgets", "pullRequest": {"number": 101}}' --key "review:acme/widgets#101"

echo "== the retry schedule failed jobs follow (preset FAST)"
"$WFQ" backoff preview --preset fast --attempts 3

echo "== process until the queue is empty"
"$WFQ" process --until-empty --concurrency 2 --retry-preset fast --exec "$here/handlers/review.sh"

echo "== wfq jobs list"
"$WFQ" jobs list
echo "== the timeline of the job that failed once: wfq jobs show $flaky"
"$WFQ" jobs show "$flaky" | sed -n '/^timeline/,$p'
