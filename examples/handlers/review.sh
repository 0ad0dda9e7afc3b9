#!/bin/sh
# A demo handler: "reviews" a pull request. Reads the payload on stdin, prints a JSON result.
# Jobs whose payload says "flaky": true fail on their first attempt, to show retries.
payload=$(cat)
case "$payload" in
  *'"flaky": true'*|*'"flaky":true'*)
    if [ "$WFQ_ATTEMPT" = 1 ]; then
        echo "upstream API timed out (attempt $WFQ_ATTEMPT)" >&2
        exit 1
    fi ;;
esac
echo "reviewing job $WFQ_JOB_ID attempt $WFQ_ATTEMPT" >&2
printf '{"reviewed": true, "job": %s, "attempt": %s, "input": %s}\n' "$WFQ_JOB_ID" "$WFQ_ATTEMPT" "$payload"
