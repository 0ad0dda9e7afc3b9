# Key modes: keep (the default), replace (debounce) and preserve-run-at (throttle); a job with
# the key that runs is never changed, a newer one runs after it; racing producers end with one
# pending job.
. "$(dirname "$0")/lib.sh"

kinds() { "$WFQ" jobs show "$1" --json | jq_field "' '.join(e['kind'] for e in d['events'])"; }
run_at_of() { "$WFQ" jobs show "$1" --json | jq_field "d['run_at']"; }
payload_of() { "$WFQ" jobs show "$1" --json | jq_field "json.dumps(d['payload'], sort_keys=True)"; }

a=$("$WFQ" enqueue review '{"v": 1}' --key keep-1 --delay 1h)
expect_exit 0 "$WFQ" enqueue review '{"v": 2}' --key keep-1 --key-mode keep
[ "$OUT" = "$a" ] || fail "keep returned $OUT, want $a"
contains "$ERR" "already exists"
[ "$(payload_of "$a")" = '{"v": 1}' ] || fail "keep changed the payload"
pass "keep (the default) returns the existing job unchanged"

b=$("$WFQ" enqueue review '{"v": 1}' --key debounce --key-mode replace --delay 1h)
first_run_at=$(run_at_of "$b")
expect_exit 0 "$WFQ" enqueue review '{"v": 2}' --key debounce --key-mode replace --delay 2h --json
[ "$(echo "$OUT" | jq_field "d['id']")" = "$b" ] || fail "replace created a new job: $OUT"
[ "$(echo "$OUT" | jq_field "d['replaced']")" = True ] || fail "--json says replaced: $OUT"
contains "$ERR" "took the new payload and run_at"
[ "$(payload_of "$b")" = '{"v": 2}' ] || fail "replace kept the old payload"
[ "$(run_at_of "$b")" \> "$first_run_at" ] || fail "replace kept run_at $first_run_at"
contains "$(kinds "$b")" "replaced"
pass "replace: the pending job takes the new payload and the new run_at"

c=$("$WFQ" enqueue review '{"v": 1}' --key throttle --key-mode preserve-run-at --delay 1h)
first_run_at=$(run_at_of "$c")
expect_exit 0 "$WFQ" enqueue review '{"v": 2}' --key throttle --key-mode preserve-run-at --delay 2h
[ "$OUT" = "$c" ] || fail "preserve-run-at created a new job"
[ "$(payload_of "$c")" = '{"v": 2}' ] || fail "preserve-run-at kept the old payload"
[ "$(run_at_of "$c")" = "$first_run_at" ] || fail "preserve-run-at moved run_at"
pass "preserve-run-at: the new payload, the first run_at"

# A running job is never changed: the next one waits for it, then runs once with the last payload.
d=$("$WFQ" enqueue push '{"v": 1, "block": true}' --key pr-9)
"$WFQ" process --type push --concurrency 2 --poll 100ms --max-jobs 3 --exec sh -c '
    p=$(cat); case "$p" in *block*) while [ ! -e '"$TMP/release"' ]; do sleep 0.05; done ;; esac
    echo "$WFQ_JOB_ID $p" >> '"$TMP/ran" 2> "$TMP/worker.log" &
worker=$!
wait_for 20 sh -c "\"$WFQ\" jobs show $d --json | grep -q '\"state\": *\"running\"'"
expect_exit 0 "$WFQ" enqueue push '{"v": 2}' --key pr-9 --key-mode replace
e=$OUT
[ "$e" != "$d" ] || fail "replace changed the running job"
expect_exit 0 "$WFQ" enqueue push '{"v": 3}' --key pr-9 --key-mode replace
[ "$OUT" = "$e" ] || fail "a second push made another job ($OUT, not $e)"
[ "$(payload_of "$d")" = '{"block": true, "v": 1}' ] || fail "the running job's payload changed"
contains "$(kinds "$d")" "superseded"
contains "$(kinds "$e")" "replaced"
# An unkeyed job enqueued after e is claimed (the worker has a free slot): e was passed over.
f=$("$WFQ" enqueue push '{"v": "other"}')
wait_for 20 sh -c "\"$WFQ\" jobs show $f --json | grep -q '\"state\": *\"completed\"'"
[ "$(job_field "$e" state)" = pending ] || fail "the next job with the key started while the first ran"
"$WFQ" why "$e" --json > "$TMP/why.json"
[ "$(jq_field "d['reason']" < "$TMP/why.json")" = key_running ] || fail "why: $(cat "$TMP/why.json")"
contains "$(jq_field "d['explanation']" < "$TMP/why.json")" "waits for job $d with the same key 'pr-9', running on worker"
touch "$TMP/release"
expect_wait 0 "$worker" "the worker" "$TMP/worker.log"
[ "$(job_field "$e" state)" = completed ] || fail "the next job did not run after the first"
[ "$(grep -c "^$e " "$TMP/ran")" = 1 ] || fail "the next job ran $(grep -c "^$e " "$TMP/ran") times"
grep -q "^$e {\"v\": 3}" "$TMP/ran" || fail "the next job ran without the last payload: $(cat "$TMP/ran")"
pass "a running job is not changed; one new job runs after it with the last payload; why says key_running, naming it"

# A job of the key that started and is due again (retried after a failure) runs before a newer one
# enqueued meanwhile: why says key_queued, naming it.
kq=$("$WFQ" enqueue flaky '{"v": 1}' --key kq-1)
expect_exit 0 "$WFQ" process --type flaky --max-jobs 1 --retry-preset FAST --poll 100ms --exec false
[ "$(job_field "$kq" state)" = pending ] && [ "$(job_field "$kq" attempt)" = 1 ] || fail "the flaky job is not retrying"
kq2=$("$WFQ" enqueue flaky '{"v": 2}' --key kq-1 --key-mode replace)
[ "$kq2" != "$kq" ] || fail "replace changed a job that had started"
key_queued() { "$WFQ" why "$kq2" --json | jq_field "d['reason']" | grep -qx key_queued; }
wait_for 20 key_queued
contains "$("$WFQ" why "$kq2")" "waits for job $kq with the same key 'kq-1', which is older and due"
pass "why says key_queued for a job behind an older due job of its key, naming it"

expect_exit 2 "$WFQ" enqueue t '{}' --key k --key-mode sometimes
contains "$ERR" "--key-mode must be keep, replace or preserve-run-at"
expect_exit 2 "$WFQ" enqueue t '{}' --key-mode replace
contains "$ERR" "--key-mode needs --key"
printf '{"type": "t", "key": "n", "key_mode": "often"}\n' > "$TMP/bad.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/bad.ndjson"
contains "$ERR" "field 'key_mode' must be keep, replace or preserve-run-at"
printf '{"type": "t", "key_mode": "replace"}\n' > "$TMP/bad.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/bad.ndjson"
contains "$ERR" "field 'key_mode' needs field 'key'"
pass "bad key modes: exit 2 on the command line, 65 in NDJSON, naming the flag or field"

printf '%s\n' '{"type": "nd", "key": "nd-1", "payload": {"v": 1}, "delay": "1h"}' \
    '{"type": "nd", "key": "nd-1", "key_mode": "replace", "payload": {"v": 2}, "delay": "1h"}' \
    '{"type": "nd", "key": "nd-1", "payload": {"v": 3}}' > "$TMP/modes.ndjson"
expect_exit 0 "$WFQ" enqueue --ndjson "$TMP/modes.ndjson"
[ "$(echo "$OUT" | sort -u | wc -l)" = 1 ] || fail "NDJSON lines with one key made several jobs: $OUT"
[ "$(payload_of "$(echo "$OUT" | head -1)")" = '{"v": 2}' ] || fail "NDJSON key_mode not applied"
contains "$ERR" "2 already existed, 1 of them took the new payload"
# --key-mode with --ndjson applies to the lines that have a key.
printf '%s\n' '{"type": "nd", "key": "nd-1", "payload": {"v": 4}}' > "$TMP/more.ndjson"
"$WFQ" enqueue --ndjson "$TMP/more.ndjson" --key-mode preserve-run-at > /dev/null 2>&1
[ "$(payload_of "$(echo "$OUT" | head -1)")" = '{"v": 4}' ] || fail "--key-mode not applied to NDJSON lines"
pass "NDJSON key_mode, and --key-mode for the lines with a key"

# Racing producers, several real processes: one job, every caller gets its id, the last payload
# wins (the last to commit: its replace is the job's last `replaced` event).
for mode in keep replace; do
    pids=()
    for i in 1 2 3 4 5 6 7 8; do
        "$WFQ" enqueue race "{\"n\": $i}" --key "race-$mode" --key-mode $mode --delay 1h > "$TMP/race-$mode-$i" 2>/dev/null &
        pids+=($!)
    done
    for p in "${pids[@]}"; do expect_wait 0 "$p" "a racing producer"; done
    ids=$(cat "$TMP"/race-$mode-* | sort -u)
    [ "$(echo "$ids" | wc -l)" = 1 ] || fail "$mode: racing producers got different ids: $ids"
    n=$("$WFQ" jobs list --type race --limit 0 --json | jq_field "len([j for j in d if j['key'] == 'race-$mode'])")
    [ "$n" = 1 ] || fail "$mode: $n jobs with the key"
    replaced=$("$WFQ" jobs show "$ids" --json | jq_field "len([e for e in d['events'] if e['kind'] == 'replaced'])")
    if [ $mode = replace ]; then
        [ "$replaced" = 7 ] || fail "replace: $replaced replaced events for 8 producers"
    else
        [ "$replaced" = 0 ] || fail "keep replaced the payload"
        [ "$(payload_of "$ids")" != "" ] || fail "no payload"
    fi
    "$WFQ" enqueue race '{"n": "last"}' --key "race-$mode" --key-mode replace > /dev/null 2>&1
    [ "$(payload_of "$ids")" = '{"n": "last"}' ] || fail "$mode: the last payload did not win"
done
pass "8 racing producers (keep, replace): one job, one id for all, the last payload wins"
