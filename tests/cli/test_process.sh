# process: the handler contract, retries with backoff, permanent codes, timeouts, operator commands.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/handler.sh" <<'SH'
#!/bin/sh
payload=$(cat)
echo "{\"job\": $WFQ_JOB_ID, \"attempt\": $WFQ_ATTEMPT, \"type\": \"$WFQ_JOB_TYPE\", \"queue\": \"$WFQ_QUEUE\", \"max\": $WFQ_MAX_ATTEMPTS, \"corr\": \"$WFQ_CORRELATION_ID\", \"tp\": \"$TRACEPARENT\", \"db\": \"$WFQ_DB\", \"payload\": $payload}"
case "$WFQ_JOB_TYPE" in
  flaky) [ "$WFQ_ATTEMPT" -ge 2 ] || { echo "transient failure" >&2; exit 1; } ;;
  bad) echo "payload rejected" >&2; exit 65 ;;
  always) echo "still broken on attempt $WFQ_ATTEMPT" >&2; exit 1 ;;
  slow) sleep 30 ;;
esac
exit 0
SH
chmod +x "$TMP/handler.sh"

ok=$("$WFQ" enqueue ok '{"n": 1}' --correlation-id corr-1 --traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01)
flaky=$("$WFQ" enqueue flaky '{}')
bad=$("$WFQ" enqueue bad '{}')
always=$("$WFQ" enqueue always '{}' --max-attempts 2)
slow=$("$WFQ" enqueue slow '{}' --max-attempts 1)
"$WFQ" process --until-empty --concurrency 3 --retry-preset fast --timeout 500ms --poll 2s --exec "$TMP/handler.sh" 2> "$TMP/log"

r=$("$WFQ" jobs show "$ok" --json)
[ "$(echo "$r" | jq_field "d['state']")" = completed ] || fail "ok job not completed"
[ "$(echo "$r" | jq_field "d['result']['corr']")" = corr-1 ] || fail "WFQ_CORRELATION_ID"
[ "$(echo "$r" | jq_field "d['result']['payload']['n']")" = 1 ] || fail "payload on stdin"
[ "$(echo "$r" | jq_field "d['result']['job']")" = "$ok" ] || fail "WFQ_JOB_ID"
[ "$(echo "$r" | jq_field "d['result']['db']")" = "$WFQ_DB" ] || fail "WFQ_DB"
echo "$r" | jq_field "d['result']['tp']" | grep '^00-4bf92f3577b34da6a3ce929d0e0e4736-' > /dev/null || fail "TRACEPARENT continues the trace"
pass "handler gets payload on stdin and the WFQ_* environment; its stdout JSON is the result"

[ "$(job_field "$flaky" state)" = completed ] || fail "flaky not completed"
[ "$(job_field "$flaky" attempt)" = 2 ] || fail "flaky attempts"
"$WFQ" jobs show "$flaky" --json | jq_field "[e['kind'] for e in d['events']]" | grep "'retry_scheduled'" > /dev/null || fail "retry event"
pass "a failing job is retried with backoff and completes"

[ "$(job_field "$bad" state)" = failed ] || fail "exit 65 is permanent"
[ "$(job_field "$bad" attempt)" = 1 ] || fail "permanent failure retried"
contains "$(job_field "$bad" last_error)" "payload rejected"
[ "$(job_field "$always" state)" = failed ] || fail "exhausted job not failed"
[ "$(job_field "$always" attempt)" = 2 ] || fail "exhausted after max attempts"
contains "$(job_field "$always" last_error)" "attempt 2"
[ "$(job_field "$slow" error_class)" = timeout ] || fail "timeout error class"
[ "$(job_field "$slow" state)" = failed ] || fail "timed-out job with 1 attempt fails"
contains "$(cat "$TMP/log")" "job_id=$always"
pass "permanent codes fail at once; exhausted jobs fail with their stderr tail; timeouts are classified"

expect_exit 0 "$WFQ" jobs retry "$always"
[ "$(job_field "$always" state)" = pending ] || fail "retry requeues"
[ "$(job_field "$always" attempt)" = 0 ] || fail "retry resets attempts"
expect_exit 4 "$WFQ" jobs retry 999999
expect_exit 0 "$WFQ" jobs cancel "$always"
[ "$(job_field "$always" state)" = cancelled ] || fail "cancel"
expect_exit 1 "$WFQ" jobs cancel "$ok"
contains "$ERR" "is completed"
pass "jobs retry and cancel, with clear refusals"

"$WFQ" jobs list --state failed --json | jq_field "sorted(j['id'] for j in d)" | grep "$bad" > /dev/null || fail "list --state failed"
expect_exit 0 "$WFQ" jobs prune --older-than 1d
contains "$ERR" "deleted 0"
expect_exit 0 "$WFQ" jobs prune --older-than 0 --state completed --batch-size 1
contains "$ERR" "deleted 2"
expect_exit 4 "$WFQ" jobs show "$ok"
expect_exit 2 "$WFQ" jobs prune --older-than 0 --state running
pass "prune deletes old finished jobs in batches"

expect_exit 2 "$WFQ" process --until-empty
contains "$ERR" "--exec"
expect_exit 2 "$WFQ" process --until-empty --lease 10parsecs --exec true
"$WFQ" enqueue nocmd '{}' --max-attempts 1 >/dev/null
"$WFQ" process --until-empty --type nocmd --exec /no/such/handler 2>/dev/null
"$WFQ" jobs list --type nocmd --json | jq_field "d[0]['last_error']" | grep "cannot execute" > /dev/null || fail "missing handler reported"
pass "process usage errors exit 2; a missing handler command fails its job with the reason"

# The command after the flags: `-- CMD` is `--exec CMD`; wfq's own flags after --exec are a usage
# error naming the flag; after `--` nothing is checked.
expect_exit 2 "$WFQ" process --exec "$TMP/handler.sh" --until-empty --max-time 60s
contains "$ERR" "--until-empty after --exec is one of wfq's own flags"
contains "$ERR" "-- CMD ARG"
expect_exit 2 "$WFQ" process --exec sh -c true --queue=q
contains "$ERR" "--queue after --exec"
expect_exit 2 "$WFQ" process --exec sh -c true --db sqlite:x
contains "$ERR" "--db after --exec"
cat > "$TMP/args.sh" <<'SH'
#!/bin/sh
cat > /dev/null
printf '{"args": "%s"}' "$*"
SH
chmod +x "$TMP/args.sh"
a1=$("$WFQ" enqueue argsjob '{}')
"$WFQ" process --until-empty --type argsjob -- "$TMP/args.sh" --until-empty --max-time 60s 2> /dev/null
[ "$(job_field "$a1" result)" = "{'args': '--until-empty --max-time 60s'}" ] || fail "-- CMD hands every word to the command"
a2=$("$WFQ" enqueue argsjob '{}')
"$WFQ" process --until-empty --type argsjob --exec -- "$TMP/args.sh" --concurrency 3 2> /dev/null
[ "$(job_field "$a2" result)" = "{'args': '--concurrency 3'}" ] || fail "--exec -- CMD hands every word to the command"
expect_exit 2 "$WFQ" lock run cmd-after-flags echo hi --wait 2s
contains "$ERR" "--wait after the command is one of wfq's own flags"
expect_exit 0 "$WFQ" lock run cmd-after-flags -- echo hi --wait
[ "$OUT" = "hi --wait" ] || fail "lock run -- CMD: $OUT"
expect_exit 0 "$WFQ" lock run --ttl 5s cmd-after-flags sh -c 'echo "$0"' --x
[ "$OUT" = "--x" ] || fail "lock run CMD with flags that are not wfq's: $OUT"
pass "the command after the flags: -- CMD is --exec CMD, wfq's flags after --exec (or a lock run command) exit 2 naming them, after -- nothing is checked"
