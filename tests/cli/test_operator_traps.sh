# Operator traps (issue 22): a handler that hangs under cron is handed back a bounded number of
# times; hung and prefetched jobs are visible (running time in list, why, doctor; filters on
# running time for list, retry and cancel); --until-empty says when retries wait and
# --until-drained waits for them; a failed attempt keeps what ended it; list says when it cut
# its output; unknown queues and error classes are not silent no-ops; stored signals can be
# listed, cleared and expire.
. "$(dirname "$0")/lib.sh"
show() { "$WFQ" jobs show "$1" --json; }

# --- Releases are bounded: cron's --max-time stops a hung handler; the third stop fails it.
hung=$("$WFQ" enqueue hang '{}')
for run in 1 2 3; do
    "$WFQ" process --type hang --max-time 300ms --grace 100ms --max-releases 2 -- sleep 30 2>> "$TMP/release.log"
done
[ "$(job_field "$hung" state)" = failed ] || fail "a job handed back 3 times with --max-releases 2 is $(job_field "$hung" state)"
[ "$(job_field "$hung" error_class)" = release_limit ] || fail "error_class $(job_field "$hung" error_class)"
[ "$(job_field "$hung" releases)" = 2 ] || fail "releases $(job_field "$hung" releases)"
contains "$(job_field "$hung" last_error)" "--max-releases 2"
contains "$("$WFQ" why "$hung")" "permanently"
pass "a job handed back unfinished more than --max-releases times fails with release_limit"

# --- A hung job and a prefetched one are shown apart, with running time.
a=$("$WFQ" enqueue slow '{}')
b=$("$WFQ" enqueue slow '{}')
"$WFQ" process --type slow --concurrency 1 --prefetch 1 -- sh -c 'touch '"$TMP"'/started-$WFQ_JOB_ID; exec sleep 60' 2>> "$TMP/slow.log" &
worker=$!
wait_for 30 test -e "$TMP/started-$a"
prefetched() { [ "$("$WFQ" jobs show "$b" --json | jq_field "d['display_state']")" = prefetched ]; }
wait_for 30 prefetched
expect_exit 0 "$WFQ" jobs list --type slow
contains "$OUT" "prefetched"
contains "$(echo "$OUT" | grep "^$a ")" "running "
[ "$("$WFQ" why "$b" --json | jq_field "d['reason']")" = prefetched ] || fail "why $b: $("$WFQ" why "$b")"
[ "$("$WFQ" why "$a" --json | jq_field "d['reason']")" = running ] || fail "why $a"
contains "$("$WFQ" why "$a")" " for "
[ "$(show "$a" | jq_field "d['running_ms'] is not None and d['running_ms'] >= 0")" = True ] || fail "running_ms of $a"
[ "$(show "$b" | jq_field "d['running_ms']")" = None ] || fail "a prefetched job has no running time"
slow_listed() { [ "$("$WFQ" jobs list --running-longer-than 200ms --json | jq_field "[j['id'] for j in d]")" = "[$a]" ]; }
wait_for 30 slow_listed
set +e; "$WFQ" doctor --slow-after 200ms --json > "$TMP/doctor.json"; rc=$?; set -e
[ "$rc" = 1 ] || fail "doctor with a slow job exits $rc"
jq_field "[(f['severity'], str($a) in f['message']) for f in d if f['check'] == 'slow_job']" < "$TMP/doctor.json" | grep -q "('error', True)" ||
    fail "doctor: $(cat "$TMP/doctor.json")"
"$WFQ" doctor --slow-after 1h --json | jq_field "[f['severity'] for f in d if f['check'] == 'slow_job']" | grep -q "'ok'" || fail "doctor --slow-after 1h"
expect_exit 0 "$WFQ" top --json
[ "$(echo "$OUT" | jq_field "[(j['id'], j['running_ms'] >= 200) for j in d['longest_running']]")" = "[($a, True)]" ] ||
    fail "top --json longest_running (the prefetched job is not running): $OUT"
expect_exit 0 "$WFQ" top --once
contains "$OUT" "LONGEST RUNNING"
echo "$OUT" | sed -n '/LONGEST RUNNING/,$p' | grep -q "^$a " || fail "top does not show the hung job: $OUT"
expect_exit 0 "$WFQ" jobs cancel --running-longer-than 200ms --dry-run --json
[ "$(echo "$OUT" | jq_field "d['first_ids']")" = "[$a]" ] || fail "cancel filter caught a prefetched job: $OUT"
# retry a hung job: its handler is stopped and the job requeued (the attempt spent; one more given)
expect_exit 0 "$WFQ" jobs retry --running-longer-than 200ms --json
[ "$(echo "$OUT" | jq_field "d['changed']")" = 1 ] || fail "retry --running-longer-than: $OUT"
wait_for 30 test -e "$TMP/started-$b"  # the freed handler takes the prefetched job
wait_for 30 test -e "$TMP/started-$a"
kill -TERM "$worker"
wait "$worker" 2> /dev/null || true
pass "running time in list, why, top and JSON; prefetched jobs apart; doctor slow_job; --running-longer-than on list, cancel and retry"

# --- --until-empty says when retries of its jobs wait; --until-drained waits for them.
flaky=$("$WFQ" enqueue flaky '{}')
handler='[ -e '"$TMP"'/flaky-$WFQ_JOB_ID ] || { touch '"$TMP"'/flaky-$WFQ_JOB_ID; exit 3; }'
"$WFQ" process --type flaky --until-empty --poll 100ms --retry-preset standard -- sh -c "$handler" 2> "$TMP/empty.log"
[ "$(job_field "$flaky" state)" = pending ] || fail "flaky after --until-empty: $(job_field "$flaky" state)"
grep -q "wait in backoff to retry" "$TMP/empty.log" || { cat "$TMP/empty.log"; fail "--until-empty did not say a retry waits"; }
# the failed attempt's exit code and what ended it are in the timeline
show "$flaky" | jq_field "[(e['data']['exit_code'], e['data']['ended_by']) for e in d['events'] if e['kind'] == 'retry_scheduled']" |
    grep -q "(3, 'exit code 3')" || fail "exit code not in the timeline: $(show "$flaky")"
grep -q "exit_code=3" "$TMP/empty.log" || fail "exit_code not logged"
flaky2=$("$WFQ" enqueue flaky '{}')
"$WFQ" process --type flaky --until-drained --poll 100ms --retry-preset standard -- sh -c "$handler" 2> "$TMP/drained.log"
[ "$(job_field "$flaky2" state)" = completed ] || fail "--until-drained left $(job_field "$flaky2" state)"
[ "$(job_field "$flaky" state)" = completed ] || fail "--until-drained left the first flaky job $(job_field "$flaky" state)"
pass "--until-empty says a retry waits; --until-drained waits for it; the exit code is kept per attempt"

# --- What ended an attempt: a timeout is not exit_code=-1; permanent vs attempts exhausted.
t=$("$WFQ" enqueue timing '{}' --max-attempts 1)
"$WFQ" process --type timing --until-empty --timeout 200ms -- sleep 10 2> "$TMP/timeout.log"
grep "job failed" "$TMP/timeout.log" | grep -q "ended_by=\"\?timeout" || { cat "$TMP/timeout.log"; fail "timeout not logged as such"; }
if grep "job failed" "$TMP/timeout.log" | grep -q "exit_code=-1"; then fail "a timeout logged exit_code=-1"; fi
contains "$("$WFQ" why "$t")" "attempts ran out"
p=$("$WFQ" enqueue perm '{}')
"$WFQ" process --type perm --until-empty -- sh -c 'exit 65' 2> /dev/null
contains "$("$WFQ" why "$p")" "permanently"
contains "$("$WFQ" why "$p")" "exit code 65"
pass "a timeout is logged as one; why tells a permanent failure from attempts that ran out"

# --- jobs list: says when it cut; --limit 0 prints all; the filters of retry and cancel.
for i in $(seq 1 105); do echo '{"type": "many", "org": "acme"}'; done | "$WFQ" enqueue --ndjson - > /dev/null
echo '{"type": "many", "org": "other", "repo": "r1"}' | "$WFQ" enqueue --ndjson - > /dev/null
expect_exit 0 "$WFQ" jobs list --type many --json
[ "$(echo "$OUT" | jq_field "len(d)")" = 100 ] || fail "default limit"
contains "$ERR" "more match"
expect_exit 0 "$WFQ" jobs list --type many --limit 0 --json
[ "$(echo "$OUT" | jq_field "len(d)")" = 106 ] || fail "--limit 0 gave $(echo "$OUT" | jq_field "len(d)")"
[ "$(echo "$OUT" | jq_field "d == sorted(d, key=lambda j: j['id'])")" = True ] || fail "--limit 0 not in id order"
[ -z "$ERR" ] || fail "--limit 0 warned: $ERR"
expect_exit 0 "$WFQ" jobs list --type many --limit 200 --json
[ -z "$ERR" ] || fail "a list that is not cut warned: $ERR"
[ "$("$WFQ" jobs list --org other --json | jq_field "len(d)")" = 1 ] || fail "--org"
[ "$("$WFQ" jobs list --repo r1 --json | jq_field "len(d)")" = 1 ] || fail "--repo"
[ "$("$WFQ" jobs list --error-class release_limit --json | jq_field "[j['id'] for j in d]")" = "[$hung]" ] || fail "--error-class"
[ "$("$WFQ" jobs list --type many --newer-than 1h --limit 0 --json | jq_field "len(d)")" = 106 ] || fail "--newer-than"
[ "$("$WFQ" jobs list --type many --older-than 1h --json | jq_field "len(d)")" = 0 ] || fail "--older-than"
expect_exit 0 "$WFQ" jobs retry --error-class release_limit --dry-run
contains "$OUT" "1 job matches"
pass "jobs list says when more match, --limit 0 prints all in order, and filters by error class, org, repo and age"

# --- Silent no-ops: unknown queue names warn (exit 4 with --strict), unknown error classes exit 2.
expect_exit 0 "$WFQ" queues pause mial
contains "$ERR" "queue 'mial' is unknown"
expect_exit 4 "$WFQ" queues pause mial2 --strict
[ "$("$WFQ" queues list --json | jq_field "[q['queue'] for q in d if q['paused']]")" = "['mial']" ] || fail "--strict paused anyway"
expect_exit 0 "$WFQ" queues pause default
[ -z "$ERR" ] || contains "$ERR" "paused"
case "$ERR" in *unknown*) fail "a known queue warned: $ERR" ;; esac
expect_exit 0 "$WFQ" queues resume default
expect_exit 2 "$WFQ" jobs retry --error-class timout
contains "$ERR" "unknown error class 'timout'"
contains "$ERR" "timeout"
expect_exit 2 "$WFQ" jobs list --error-class timout
expect_exit 0 "$WFQ" jobs list --queue nosuch
contains "$ERR" "queue 'nosuch' is unknown"
expect_exit 4 "$WFQ" jobs cancel --queue nosuch --strict
pass "unknown queues warn (exit 4 with --strict); unknown error classes exit 2 with the list"

# --- Stored signals: list, clear, expiry.
"$WFQ" signal approved --key 1 --data '{"by": "a"}' 2> /dev/null
"$WFQ" signal approved --key 2 2> /dev/null
# Long enough to be listed by the next command even under a sanitizer; short enough to wait for.
"$WFQ" signal brief --key 1 --keep "$(bound_ms 1500)ms" 2> /dev/null
expect_exit 0 "$WFQ" signal list --json
[ "$(echo "$OUT" | jq_field "sorted((s['event'], s['key']) for s in d)")" = "[('approved', '1'), ('approved', '2'), ('brief', '1')]" ] || fail "signal list: $OUT"
[ "$(echo "$OUT" | jq_field "[s['data'] for s in d if s['key'] == '1' and s['event'] == 'approved']")" = "[{'by': 'a'}]" ] || fail "data"
brief_gone() { [ "$("$WFQ" signal list --json | jq_field "[s['event'] for s in d if s['event'] == 'brief']")" = "[]" ]; }
wait_for 10 brief_gone
expect_exit 0 "$WFQ" signal clear approved --key 1
[ "$("$WFQ" signal list --json | jq_field "[(s['event'], s['key']) for s in d]")" = "[('approved', '2')]" ] || fail "clear --key"
expect_exit 0 "$WFQ" signal clear approved
expect_exit 4 "$WFQ" signal clear approved
[ "$("$WFQ" signal list --json)" = "[]" ] || fail "signals left"
pass "stored signals are listed, cleared by event and key, and expire after --keep"
