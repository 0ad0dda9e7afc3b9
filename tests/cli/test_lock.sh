# Locks across real processes: contention, crashes (SIGKILL), pauses (SIGSTOP), bad input.
. "$(dirname "$0")/lib.sh"

now_ns() { date +%s%N; }

# --- bad input
expect_exit 2 "$WFQ" lock acquire ''
contains "$ERR" "must not be empty"
expect_exit 2 "$WFQ" lock acquire "$(head -c 2000 /dev/zero | tr '\0' k)"
contains "$ERR" "too long"
expect_exit 2 "$WFQ" lock acquire k --ttl forever
expect_exit 2 "$WFQ" lock release k --token abc
contains "$ERR" "positive integer"
expect_exit 4 "$WFQ" lock release no-such-key --token 5
expect_exit 4 "$WFQ" lock renew no-such-key --token 5
expect_exit 2 "$WFQ" lock run k
pass "bad input: empty or huge key, bad duration, non-numeric token (2); unknown key (4)"

# --- acquire / renew / release
t1=$("$WFQ" lock acquire deploy --ttl 10s --owner alice)
expect_exit 3 "$WFQ" lock acquire deploy --owner bob
contains "$ERR" "held by another"
expect_exit 0 "$WFQ" lock renew deploy --token "$t1" --ttl 20s
expect_exit 3 "$WFQ" lock release deploy --token $((t1 + 1000))
"$WFQ" lock list --json | jq_field "[(l['key'], l['owner'], l['token'], l['expired']) for l in d]" | grep "('deploy', 'alice', $t1, False)" > /dev/null \
    || fail "lock list"
expect_exit 0 "$WFQ" lock release deploy --token "$t1"
expect_exit 0 "$WFQ" lock acquire deploy --json
t2=$(echo "$OUT" | jq_field "d['token']")
[ "$t2" -gt "$t1" ] || fail "token did not grow: $t1 then $t2"
for f in key owner acquired_at expires_at; do echo "$OUT" | jq_field "d['$f']" >/dev/null || fail "--json lacks $f"; done
"$WFQ" lock release deploy --token "$t2"
pass "acquire, contention (3), renew, stale release (3), list, release; tokens grow"

# --- who: a lock's default owner and an operator action name the same user, USER@HOST, the
# lock adding :PID. Under cron LOGNAME is set and USER is not (it once gave wfq@HOST:PID for the
# lock and root@HOST for a cancel).
as_cron() { env -u USER LOGNAME=cron-op "$@"; }
t3=$(as_cron "$WFQ" lock acquire owned --ttl 30s)
owner=$("$WFQ" lock list --json | jq_field "[l['owner'] for l in d if l['key'] == 'owned'][0]")
victim=$("$WFQ" enqueue later '{}' --delay 1h)
as_cron "$WFQ" jobs cancel "$victim" > /dev/null
actor=$("$WFQ" jobs show "$victim" --json | jq_field "[e['message'] for e in d['events'] if e['kind'] == 'cancelled'][0]")
actor=${actor#cancelled by }
case "$actor" in cron-op@?*) ;; *) fail "cancel's actor under cron: '$actor'" ;; esac
case "$owner" in "$actor":[0-9]*) ;; *) fail "lock owner under cron '$owner' is not the cancel's actor '$actor' with :PID" ;; esac
t4=$(USER=alice LOGNAME=cron-op "$WFQ" lock acquire owned-too)
"$WFQ" lock list --json | jq_field "[l['owner'] for l in d if l['key'] == 'owned-too'][0]" | grep -E "^alice@${actor#cron-op@}:[0-9]+$" > /dev/null \
    || fail "USER comes before LOGNAME"
"$WFQ" lock release owned --token "$t3"
"$WFQ" lock release owned-too --token "$t4"
pass "a lock's default owner is the operator's USER@HOST (as a cancel records it) with :PID, also under cron"

# --- contention: N processes x M rounds, non-atomic read-sleep-write of a shared counter
echo 0 > "$TMP/counter"
N=4; M=5
cat > "$TMP/critical.sh" <<SH
#!/bin/sh
start=\$(date +%s%N)
v=\$(cat "$TMP/counter")
sleep 0.02
echo \$((v + 1)) > "$TMP/counter"
end=\$(date +%s%N)
echo "\$start \$end \$WFQ_LOCK_TOKEN" >> "$TMP/holders"
SH
chmod +x "$TMP/critical.sh"
contenders=()
for p in $(seq 1 $N); do
    ( for r in $(seq 1 $M); do "$WFQ" lock run counter --wait 60s --ttl 5s -- "$TMP/critical.sh" || exit 1; done ) &
    contenders+=($!)
done
for c in "${contenders[@]}"; do expect_wait 0 "$c" "a contender's lock run"; done
[ "$(cat "$TMP/counter")" = $((N * M)) ] || fail "counter is $(cat "$TMP/counter"), want $((N * M))"
sort -n "$TMP/holders" | python3 -c "
import sys
rows = [tuple(map(int, l.split())) for l in sys.stdin]
for a, b in zip(rows, rows[1:]):
    assert a[1] <= b[0], f'holders overlap: {a} and {b}'
    assert a[2] < b[2], f'tokens not strictly increasing: {a} then {b}'
print(len(rows))" | grep -x $((N * M)) > /dev/null || fail "overlap or token order (see above)"
pass "$N processes x $M rounds of lock run: counter exact, no overlap, tokens strictly increasing"

# --- a holder killed with SIGKILL: the lease frees after its TTL, with a larger token
"$WFQ" lock run crashy --ttl 1s -- sh -c 'echo $WFQ_LOCK_TOKEN > '"$TMP/crash.token"'; exec sleep 60' &
holder=$!
wait_for 20 test -s "$TMP/crash.token"
kill -KILL "$holder"
expect_wait 137 "$holder" "the SIGKILLed lock run"
expect_exit 3 "$WFQ" lock acquire crashy
expect_exit 0 "$WFQ" lock acquire crashy --wait 10s
[ "$OUT" -gt "$(cat "$TMP/crash.token")" ] || fail "token after crash not larger"
pass "SIGKILLed holder: lease lock frees after its TTL, the next token is larger"

# --- a paused holder loses the lock and is told so
cat > "$TMP/pausable.sh" <<SH
#!/bin/sh
echo \$WFQ_LOCK_TOKEN > "$TMP/pause.token"
trap 'echo stopped > "$TMP/pause.stopped"; exit 0' TERM
while :; do sleep 0.05; done
SH
chmod +x "$TMP/pausable.sh"
"$WFQ" lock run paused --ttl 1s -- "$TMP/pausable.sh" &
holder=$!
wait_for 20 test -s "$TMP/pause.token"
kill -STOP "$holder"
expect_exit 0 "$WFQ" lock acquire paused --wait 10s --ttl 30s
thief=$OUT
kill -CONT "$holder"
expect_wait 3 "$holder" "the paused lock run"
wait_for 5 test -s "$TMP/pause.stopped"
old=$(cat "$TMP/pause.token")
expect_exit 3 "$WFQ" lock renew paused --token "$old"
expect_exit 3 "$WFQ" lock release paused --token "$old"
expect_exit 0 "$WFQ" lock release paused --token "$thief"
pass "SIGSTOPped holder loses the lock: its command is stopped, exit 3; stale renew/release exit 3"

# --- lock run passes the command's exit status through
expect_exit 7 "$WFQ" lock run status -- sh -c 'exit 7'
expect_exit 0 "$WFQ" lock run status -- true
pass "lock run exits with the command's status"

if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    "$WFQ" lock run --advisory adv -- sh -c 'echo held > '"$TMP/adv"'; exec sleep 60' &
    holder=$!
    wait_for 20 test -s "$TMP/adv"
    expect_exit 3 "$WFQ" lock run --advisory adv -- true
    # Any SQL client sees the same lock.
    [ "$(psql -Atqc "select pg_try_advisory_lock(hashtextextended('adv', 0))")" = f ] || fail "psql could take the advisory lock"
    kill -KILL "$holder"
    expect_wait 137 "$holder" "the SIGKILLed advisory lock run"
    expect_exit 0 "$WFQ" lock run --advisory adv --wait 5s -- true
    pass "advisory lock: exclusive, visible to psql, freed at once when the holder is SIGKILLed"
else
    expect_exit 2 "$WFQ" lock run --advisory adv -- true
    contains "$ERR" "PostgreSQL"
    pass "advisory locks on SQLite: a clear usage error"
fi
