# Flow control with real processes: limits set|list|remove and their bad input, a concurrency cap
# never exceeded across several worker processes (one SIGKILLed, its jobs rescued), a rate limit
# that holds over every window, held-back jobs in `why`, and live rule changes.
. "$(dirname "$0")/lib.sh"

# ---- bad input ------------------------------------------------------------------------------
expect_exit 2 "$WFQ" limits set 'org:*x' --concurrency 1
contains "$ERR" "PATTERN"
expect_exit 2 "$WFQ" limits set 'org:*' --rate 5
contains "$ERR" "--rate"
expect_exit 2 "$WFQ" limits set 'org:*' --rate x/1h
contains "$ERR" "--rate"
expect_exit 2 "$WFQ" limits set 'org:*' --rate 5/soon
contains "$ERR" "--rate"
expect_exit 2 "$WFQ" limits set 'org:*' --weight 0
contains "$ERR" "--weight"
expect_exit 2 "$WFQ" limits set 'org:*' --weight heavy
contains "$ERR" "--weight"
expect_exit 2 "$WFQ" limits set 'org:*' --concurrency -1
contains "$ERR" "--concurrency"
expect_exit 2 "$WFQ" limits set 'org:*' --burst 3
contains "$ERR" "--burst"
expect_exit 2 "$WFQ" limits set 'org:*'
contains "$ERR" "--concurrency"
long=$(python3 -c "print('k' * 201)")
expect_exit 2 "$WFQ" enqueue t --limit "$long"
contains "$ERR" "--limit"
nine=()
for i in 1 2 3 4 5 6 7 8 9; do nine+=(--limit "k$i"); done
expect_exit 2 "$WFQ" enqueue t "${nine[@]}"
contains "$ERR" "--limit"
python3 -c "import json; print(json.dumps({'type': 't', 'limits': ['k%d' % i for i in range(9)]}))" > "$TMP/nine.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/nine.ndjson"
contains "$ERR" "limits"
python3 -c "import json; print(json.dumps({'type': 't', 'limits': ['k' * 201]}))" > "$TMP/long.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/long.ndjson"
contains "$ERR" "limits"
echo '{"type": "t", "limits": "k1"}' > "$TMP/str.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/str.ndjson"
contains "$ERR" "limits"
expect_exit 4 "$WFQ" limits remove 'nothing:*'
[ "$("$WFQ" jobs list --json | jq_field 'len(d)')" = 0 ] || fail "a bad line enqueued a job"
pass "malformed patterns, rates, weights exit 2 naming the flag; too many or too long keys exit 2 (flags) and 65 (NDJSON)"

# ---- a concurrency cap across processes, with SIGKILL and rescue ----------------------------
"$WFQ" limits set 'cap:*' --concurrency 2
"$WFQ" limits list --json | jq_field "d[0]['pattern'] + ' ' + str(d[0]['concurrency'])" | grep -qx 'cap:\* 2' \
    || fail "limits list does not show the rule"
python3 -c "
import json
for i in range(24): print(json.dumps({'type': 'capped', 'limits': ['cap:a' if i % 2 else 'cap:b'], 'payload': {'i': i}}))" \
    > "$TMP/capped.ndjson"
"$WFQ" enqueue --ndjson "$TMP/capped.ndjson" > /dev/null 2>&1
# Each handler notes its start and end (nanoseconds) and its key; appends are atomic.
cat > "$TMP/handler.sh" <<'SH'
#!/bin/sh
key=$(cat | python3 -c "import json,sys; print('cap:a' if json.load(sys.stdin)['i'] % 2 else 'cap:b')")
echo "$(date +%s%N) 1 $key $WFQ_JOB_ID/$WFQ_ATTEMPT $PPID" >> "$LOG"
sleep 0.3
echo "$(date +%s%N) -1 $key $WFQ_JOB_ID/$WFQ_ATTEMPT $PPID" >> "$LOG"
SH
chmod +x "$TMP/handler.sh"
export LOG="$TMP/intervals"
workers=()
# (Not --until-empty: a worker that finds only held-back jobs stops, as with busy lock keys.)
for w in 1 2 3; do
    "$WFQ" process --type capped --concurrency 4 --poll 100ms --lease 2s --rescue-interval 200ms \
        --exec "$TMP/handler.sh" 2> "$TMP/cap$w.log" &
    workers+=($!)
done
# Once jobs run, SIGKILL a worker running one (its handlers die with it): its jobs keep their
# slots until they are rescued.
wait_for 20 test -s "$LOG"
victim=$(head -1 "$LOG" | cut -d' ' -f5)
for w in 0 1 2; do [ "${workers[$w]}" = "$victim" ] && v=$w; done
[ -n "${v:-}" ] || fail "the first handler's parent $victim is no worker"
killed_ns=$(date +%s%N)
kill -KILL "$victim"
expect_wait 137 "$victim" "the SIGKILLed worker"
"$WFQ" process --type capped --concurrency 4 --poll 100ms --lease 2s --rescue-interval 200ms \
    --exec "$TMP/handler.sh" 2> "$TMP/cap4.log" &
workers[$v]=$!
all_capped() { [ "$("$WFQ" jobs list --type capped --state completed --limit 0 --json | jq_field "len(d)")" = 24 ]; }
wait_for 90 all_capped
for w in 1 2 3; do kill -TERM "${workers[$((w - 1))]}"; done
for w in 1 2 3; do expect_wait 0 "${workers[$((w - 1))]}" "capped worker $w" "$TMP/cap$((w - 1 == v ? 4 : w)).log"; done
# The most handlers of one key running at once: never above 2 (and 2 was reached).
# A handler killed with its worker wrote no end: it ended when the worker was killed.
peak=$(python3 -c "
import sys
events, open_ = [], {}
for line in open(sys.argv[1]):
    t, d, key, attempt, ppid = line.split()
    events.append((int(t), int(d), key))
    open_[attempt] = open_.get(attempt, 0) + int(d)
for attempt, n in open_.items():
    if n:
        events.append((int(sys.argv[2]), -1, [e for e in open(sys.argv[1]) if e.split()[3] == attempt][0].split()[2]))
running, peak = {}, {}
for t, d, key in sorted(events):
    running[key] = running.get(key, 0) + d
    peak[key] = max(peak.get(key, 0), running[key])
print(max(peak.values()))" "$LOG" "$killed_ns")
[ "$peak" -le 2 ] || fail "$peak handlers of one key ran at once under a cap of 2"
[ "$peak" = 2 ] || fail "the cap of 2 was never used ($peak at most)"
rescued=$("$WFQ" jobs list --type capped --state completed --limit 0 --json | jq_field "len([j for j in d if j['attempt'] > 1])")
[ "$rescued" -ge 1 ] || fail "no job of the SIGKILLed worker was rescued"
pass "a concurrency cap of 2 per key held across 4 worker processes, one SIGKILLed ($rescued jobs rescued)"

# ---- a rate limit over every window ---------------------------------------------------------
"$WFQ" limits set 'gh:*' --rate 5/1s --burst 2
python3 -c "
import json
for i in range(16): print(json.dumps({'type': 'rated', 'limits': ['gh:inst-9']}))" | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
for w in 1 2; do
    "$WFQ" process --type rated --concurrency 4 --poll 100ms --exec true 2> "$TMP/rate$w.log" &
    workers[$w]=$!
done
all_rated() { [ "$("$WFQ" jobs list --type rated --state completed --limit 0 --json | jq_field "len(d)")" = 16 ]; }
wait_for 60 all_rated
for w in 1 2; do kill -TERM "${workers[$w]}"; done
for w in 1 2; do expect_wait 0 "${workers[$w]}" "rated worker $w" "$TMP/rate$w.log"; done
"$WFQ" jobs list --type rated --limit 0 --json > "$TMP/rated.json"
python3 - "$TMP/rated.json" <<'PY' || fail "the rate limit was exceeded in some window"
import json, sys, datetime
jobs = json.load(open(sys.argv[1]))
assert len(jobs) == 16 and all(j['state'] == 'completed' for j in jobs), "not all rated jobs completed"
def ms(t):
    return datetime.datetime.fromisoformat(t.replace('Z', '+00:00')).timestamp() * 1000
s = sorted(ms(j['started_at']) for j in jobs)
# Starts in any window [s_i, s_j] <= burst + N*W/DUR (+1 ms of rounding).
for i in range(len(s)):
    for j in range(i, len(s)):
        allowed = 2 + 5 * (s[j] - s[i] + 1) / 1000.0
        assert j - i + 1 <= allowed, "%d starts in %.0f ms" % (j - i + 1, s[j] - s[i])
# And the limit was what paced them: 16 starts at 5/s after a burst of 2 take 2.8 s.
assert s[-1] - s[0] >= 2600, "16 starts in %.0f ms" % (s[-1] - s[0])
PY
pass "a rate of 5/1s with burst 2 held over every window of 16 starts"

# ---- held back: why, limits list, live changes ----------------------------------------------
"$WFQ" limits set 'live:*' --concurrency 0
ids=()
for i in 1 2 3; do ids+=("$("$WFQ" enqueue held --limit live:k)"); done
"$WFQ" process --type held --concurrency 2 --poll 100ms --exec true 2> "$TMP/live.log" &
live=$!
held_back() { "$WFQ" why "${ids[0]}" --json | jq_field "d['reason']" | grep -qx concurrency_limited; }
wait_for 20 held_back
"$WFQ" why "${ids[0]}" > "$TMP/why.txt"
contains "$(cat "$TMP/why.txt")" "live:*"
contains "$(cat "$TMP/why.txt")" "live:k"
[ "$("$WFQ" limits list --json | jq_field "[r['held'] for r in d if r['pattern'] == 'live:*'][0]")" = 3 ] \
    || fail "limits list does not count 3 held-back jobs"
contains "$("$WFQ" limits list)" "live:k"
[ "$(job_field "${ids[0]}" state)" = pending ] || fail "a job ran under a cap of 0"
# Raising the cap live lets one run at a time; removing the rule frees the rest.
"$WFQ" limits set 'live:*' --concurrency 1
one_done() { [ "$("$WFQ" jobs list --type held --state completed --json | jq_field 'len(d)')" -ge 1 ]; }
wait_for 10 one_done
"$WFQ" limits remove 'live:*'
all_done() { [ "$("$WFQ" jobs list --type held --state completed --json | jq_field 'len(d)')" = 3 ]; }
wait_for 10 all_done
kill -TERM "$live"
expect_wait 0 "$live" "the live worker" "$TMP/live.log"
pass "held-back jobs: why says concurrency_limited with rule and key, limits list counts them, live set/remove frees them"

# Rate-limited: why names the next token.
"$WFQ" limits set 'slow:*' --rate 1/1h
a=$("$WFQ" enqueue slow --limit slow:x)
b=$("$WFQ" enqueue slow --limit slow:x)
"$WFQ" process --type slow --poll 100ms --exec true 2> "$TMP/slow.log" &
slow=$!
rate_held() { "$WFQ" why "$b" --json | jq_field "d['reason']" | grep -qx rate_limited; }
wait_for 20 rate_held
contains "$("$WFQ" why "$b")" "next token"
[ "$(job_field "$a" state)" = completed ] || fail "the first job did not spend the one token"
kill -TERM "$slow"
expect_wait 0 "$slow" "the slow worker" "$TMP/slow.log"
pass "why says rate_limited with the next token's time"
