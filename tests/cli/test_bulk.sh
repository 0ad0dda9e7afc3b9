# Bulk actions by filter: 5,000 failed jobs of two error classes; retrying one class while
# workers run moves exactly that class, touches no running job (even one of that class), and
# never asks without a terminal. Dry runs, prune by filter, bad filters exit 2.
. "$(dirname "$0")/lib.sh"

# a: fails permanently (exit 65: error_class exit_code); b: crashes (error_class crash) until
# $TMP/fixed exists; slow: crashes on attempt 1, then holds until $TMP/release exists.
cat > "$TMP/handler.sh" <<SH
#!/bin/sh
case "\$WFQ_JOB_TYPE" in
  a) exit 65 ;;
  b) [ -e "$TMP/fixed" ] && exit 0; kill -9 \$\$ ;;
  slow) [ "\$WFQ_ATTEMPT" = 1 ] && kill -9 \$\$
        touch "$TMP/holding.\$WFQ_JOB_ID"; while [ ! -e "$TMP/release" ]; do sleep 0.05; done ;;
esac
exit 0
SH
chmod +x "$TMP/handler.sh"
count() { "$WFQ" jobs retry "$@" --dry-run --json | jq_field "d['matched']"; }

python3 -c "
import json
for i in range(2500):
    print(json.dumps({'type': 'a', 'max_attempts': 1}))
    print(json.dumps({'type': 'b', 'max_attempts': 1}))" > "$TMP/jobs.ndjson"
"$WFQ" enqueue --ndjson "$TMP/jobs.ndjson" > /dev/null 2>&1
"$WFQ" process --until-empty --concurrency 8 --poll 200ms --exec "$TMP/handler.sh" 2> "$TMP/setup.log"
[ "$(count --error-class exit_code)" = 2500 ] || fail "setup: $(count --error-class exit_code) exit_code failures"
[ "$(count --error-class crash)" = 2500 ] || fail "setup: $(count --error-class crash) crash failures"
pass "5,000 failed jobs: 2,500 exit_code, 2,500 crash"

# Bad filters are usage errors, before anything changes.
expect_exit 2 "$WFQ" jobs retry --state bogus
contains "$ERR" "unknown state 'bogus'"
expect_exit 2 "$WFQ" jobs retry --state failed --older-than 5parsecs
contains "$ERR" "--older-than"
expect_exit 2 "$WFQ" jobs cancel --newer-than soon
expect_exit 2 "$WFQ" jobs retry --state running
contains "$ERR" "never touches running"
expect_exit 2 "$WFQ" jobs prune --older-than 0 --state pending
expect_exit 2 "$WFQ" jobs retry
[ "$(count --error-class crash)" = 2500 ] || fail "a refused command changed jobs"
pass "unknown state, malformed durations, states an action never touches: exit 2"

expect_exit 0 "$WFQ" jobs retry --error-class crash --dry-run
contains "$OUT" "2500 jobs match; first ids: "
expect_exit 0 "$WFQ" jobs retry --error-class crash --type b --newer-than 1h --dry-run --json
[ "$(echo "$OUT" | jq_field "(d['matched'], d['changed'], len(d['first_ids']))")" = "(2500, 0, 10)" ] || fail "dry run: $OUT"
[ "$(count --error-class crash --older-than 1h)" = 0 ] || fail "--older-than 1h matched fresh jobs"
pass "dry run counts and shows the first ids; --newer-than/--older-than filter by updated_at"

# Two slow jobs run (attempt 2, error_class crash from attempt 1) while the retry happens.
s1=$("$WFQ" enqueue slow '{}' --queue slow --max-attempts 2)
s2=$("$WFQ" enqueue slow '{}' --queue slow --max-attempts 2)
"$WFQ" process --queue slow --concurrency 2 --retry-preset fast --exec "$TMP/handler.sh" 2> "$TMP/slow.log" &
slow_worker=$!
wait_for 60 test -e "$TMP/holding.$s1" -a -e "$TMP/holding.$s2"
[ "$(job_field "$s1" error_class)" = crash ] || fail "slow job's error class"

touch "$TMP/fixed"
"$WFQ" process --concurrency 4 --poll 200ms --exec "$TMP/handler.sh" 2> "$TMP/w1.log" &
w1=$!
"$WFQ" process --concurrency 4 --poll 200ms --exec "$TMP/handler.sh" 2> "$TMP/w2.log" &
w2=$!
# No terminal: no question, even above 1,000 jobs.
expect_exit 0 "$WFQ" jobs retry --error-class crash --json < /dev/null
[ "$OUT" = '{"changed":2500,"matched":2500}' ] || fail "retry: $OUT"
done_b() { [ "$("$WFQ" queues list --json | jq_field "[q['completed_last_hour'] for q in d if q['queue'] == 'default'][0]")" = 2500 ]; }
wait_for 120 done_b
for s in "$s1" "$s2"; do
    [ "$(job_field "$s" state)" = running ] || fail "running job $s was touched"
    [ "$(job_field "$s" attempt)" = 2 ] || fail "running job $s attempt changed"
done
[ "$(count --error-class exit_code)" = 2500 ] || fail "the other class moved"
[ "$(count --error-class crash)" = 0 ] || fail "crash failures left"
expect_exit 0 "$WFQ" jobs show "$("$WFQ" jobs list --type b --limit 1 --json | jq_field "d[0]['id']")" --json
contains "$OUT" "retried by $(id -un)@$(hostname)"
pass "retry by error class while workers ran: exactly that class (2,500) moved and completed; running jobs untouched"

touch "$TMP/release"
kill -TERM "$w1" "$w2" "$slow_worker"
expect_wait 0 "$w1" "worker 1" "$TMP/w1.log"
expect_wait 0 "$w2" "worker 2" "$TMP/w2.log"
expect_wait 0 "$slow_worker" "slow worker" "$TMP/slow.log"

# Cancel by filter, by ids plus filter, and prune by filter.
p1=$("$WFQ" enqueue later '{}' --delay 1h --queue parked)
p2=$("$WFQ" enqueue later '{}' --delay 1h --queue parked)
p3=$("$WFQ" enqueue later '{}' --delay 1h --queue other)
expect_exit 0 "$WFQ" jobs cancel "$p1" "$p3" --queue parked --json
[ "$OUT" = '{"changed":1,"matched":1}' ] || fail "cancel ids+filter: $OUT"
expect_exit 0 "$WFQ" jobs cancel --queue parked --queue other
contains "$OUT" "cancelled 2 of 2 matching jobs"
expect_exit 0 "$WFQ" jobs prune --older-than 0 --error-class exit_code --batch-size 300 --json
[ "$OUT" = '{"changed":2500,"deleted":2500,"matched":2500}' ] || fail "prune by class: $OUT"
expect_exit 0 "$WFQ" jobs prune --older-than 0 --state cancelled --queue parked
contains "$ERR" "deleted 2 jobs"
expect_exit 4 "$WFQ" jobs show "$p1"
pass "cancel and prune by filter (ids and filters together: only the ids that match)"
