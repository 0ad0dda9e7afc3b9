# queues: list, pause and resume. A paused queue's jobs are not claimed (the claim excludes it,
# so a running worker honours the pause at its next claim), running jobs finish, enqueue still
# works, `wfq why` says queue_paused, metrics show it; resuming wakes idle workers at once.
. "$(dirname "$0")/lib.sh"
"$WFQ" queues list > /dev/null  # create the database before workers start side by side

cat > "$TMP/handler.sh" <<SH
#!/bin/sh
echo "\$WFQ_JOB_ID" >> "$TMP/ran"
case "\$WFQ_JOB_TYPE" in
  hold) touch "$TMP/holding"; while [ ! -e "$TMP/release" ]; do sleep 0.05; done ;;
esac
exit 0
SH
chmod +x "$TMP/handler.sh"
ran() { grep -qx "$1" "$TMP/ran" 2>/dev/null; }
state_is() { [ "$(job_field "$1" state)" = "$2" ]; }

"$WFQ" process --queue mail --queue default --concurrency 2 --poll 5s --exec "$TMP/handler.sh" 2> "$TMP/worker.log" &
worker=$!
hold=$("$WFQ" enqueue hold '{}' --queue mail)
wait_for 20 test -e "$TMP/holding"

expect_exit 0 "$WFQ" queues pause mail
contains "$ERR" "queue mail paused"
expect_exit 0 "$WFQ" queues pause mail
contains "$ERR" "already paused"
# Enqueue still works; the worker claims the default queue's later job but not the paused one.
paused=$("$WFQ" enqueue note '{}' --queue mail)
control=$("$WFQ" enqueue note '{}')
wait_for 20 state_is "$control" completed
state_is "$paused" pending || fail "a job of a paused queue was claimed"
ran "$paused" && fail "a job of a paused queue ran"
pass "a paused queue's jobs are not claimed (a later job of another queue ran first); enqueue still works"

expect_exit 0 "$WFQ" why "$paused" --json
[ "$(echo "$OUT" | jq_field "d['reason']")" = queue_paused ] || fail "why: $OUT"
contains "$(echo "$OUT" | jq_field "d['explanation']")" "wfq queues resume mail"
"$WFQ" metrics | grep -x 'wfq_queue_paused{queue="mail"} 1' > /dev/null || fail "metrics do not show the pause"
expect_exit 0 "$WFQ" queues list --json
echo "$OUT" | jq_field "{q['queue']: (q['paused'], q['pending'], q['running']) for q in d}" > "$TMP/queues"
contains "$(cat "$TMP/queues")" "'mail': (True, 1, 1)"
contains "$(cat "$TMP/queues")" "'default': (False, 0, 0)"
expect_exit 0 "$WFQ" queues list
contains "$OUT" "paused"
pass "why says queue_paused; metrics and queues list show the pause"

touch "$TMP/release"
wait_for 20 state_is "$hold" completed
state_is "$paused" pending || fail "paused job claimed after the running one finished"
pass "the job running when the queue was paused finished"

# Resume wakes the idle worker (poll 5s) at once: NOTIFY on PostgreSQL, the commit on SQLite.
start=$(date +%s%N)
expect_exit 0 "$WFQ" queues resume mail
wait_for 10 state_is "$paused" completed
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt "$(bound_ms 1000)" ] || fail "the paused job ran ${ms}ms after resume (want < 1s; the worker polls every 5s)"
"$WFQ" metrics | grep 'wfq_queue_paused{' && fail "metrics still show a pause"
expect_exit 0 "$WFQ" queues resume mail
contains "$ERR" "was not paused"
pass "resume: idle workers claim at once (${ms}ms)"

kill -TERM "$worker"
expect_wait 0 "$worker" "worker" "$TMP/worker.log"
expect_exit 2 "$WFQ" queues pause
expect_exit 2 "$WFQ" queues pause ""
pass "usage errors exit 2"
