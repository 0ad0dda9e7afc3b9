# Flow control's groups with real processes: --group, "group" in NDJSON (and the SQL API), the
# org by default; fairness between tenants (org B's 100 jobs enqueued after org A's 2,000 run
# interleaved with A's, early, not in the last completions), weights (3:1), priority first, jobs
# without a group in due-time order, `why` says waiting_turn, and bad input.
. "$(dirname "$0")/lib.sh"

# ---- bad input ------------------------------------------------------------------------------
long=$(python3 -c "print('g' * 201)")
expect_exit 2 "$WFQ" enqueue t --group "$long"
contains "$ERR" "--group is too long (201 bytes, at most 200)"
expect_exit 2 "$WFQ" enqueue t --group ""
contains "$ERR" "--group must not be empty"
python3 -c "import json; print(json.dumps({'type': 't', 'group': 'g' * 201}))" > "$TMP/long.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/long.ndjson"
contains "$ERR" "line 1: group is too long (201 bytes, at most 200)"
echo '{"type": "t", "group": 7}' > "$TMP/num.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/num.ndjson"
contains "$ERR" "field 'group' must be a string"
printf '{"type": "t", "group": "a\\u0001b"}\n' > "$TMP/ctl.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/ctl.ndjson"
contains "$ERR" "group must not contain control characters"
[ "$("$WFQ" jobs list --json | jq_field 'len(d)')" = 0 ] || fail "a bad line enqueued a job"
pass "a bad group exits 2 naming --group, 65 for an NDJSON line, and enqueues nothing"

# ---- the group: given, or the org -----------------------------------------------------------
given=$("$WFQ" enqueue t --org acme --group tenant-7)
from_org=$("$WFQ" enqueue t --org acme)
none=$("$WFQ" enqueue t)
long_org=$("$WFQ" enqueue t --org "$(python3 -c "print('o' * 300)")")
[ "$(job_field "$given" group)" = tenant-7 ] || fail "--group: $(job_field "$given" group)"
[ "$(job_field "$from_org" group)" = acme ] || fail "the org is the default group: $(job_field "$from_org" group)"
[ "$(job_field "$none" group)" = None ] || fail "no org, no group: $(job_field "$none" group)"
[ "$(job_field "$long_org" group)" = None ] || fail "an org longer than 200 bytes gives no group"
printf '%s\n' '{"type": "t", "group": "line-g"}' '{"type": "t", "org": "line-org"}' > "$TMP/g.ndjson"
ids=$("$WFQ" enqueue --ndjson "$TMP/g.ndjson" 2> /dev/null)
[ "$(job_field "$(echo "$ids" | head -1)" group)" = line-g ] || fail "NDJSON group"
[ "$(job_field "$(echo "$ids" | tail -1)" group)" = line-org ] || fail "NDJSON org as the group"
"$WFQ" jobs show "$given" | grep -q "tenant-7" || fail "jobs show does not show the group"
"$WFQ" jobs cancel "$given" "$from_org" "$none" "$long_org" $ids > /dev/null
pass "--group and \"group\" are stored and shown; the org is the default group (none without an org)"

# Runs QUEUE's jobs with N handlers until it is empty; each handler notes its job's id, in the
# order the jobs start, in $TMP/order.QUEUE.
run_queue() {
    local queue=$1 n=$2
    : > "$TMP/order.$queue"
    ORDER="$TMP/order.$queue" "$WFQ" process --queue "$queue" --concurrency "$n" --until-empty \
        --exec sh -c 'cat > /dev/null; echo "$WFQ_JOB_ID" >> "$ORDER"' 2> "$TMP/worker.$queue.log" ||
        fail "worker on $queue: $(tail -3 "$TMP/worker.$queue.log")"
}
# positions FILE-OF-IDS ORDER-FILE: the 1-based places in ORDER-FILE of the ids in FILE-OF-IDS.
positions() {
    python3 -c "
import sys
ids = set(open(sys.argv[1]).read().split())
order = open(sys.argv[2]).read().split()
print(' '.join(str(i + 1) for i, x in enumerate(order) if x in ids))" "$1" "$2"
}
# How many of the jobs in IDS_FILE are among the first N starts of ORDER_FILE.
among_first() { positions "$1" "$2" | tr ' ' '\n' | awk -v n="$3" '$1 <= n' | wc -l; }
ndjson() {  # ndjson COUNT OBJECT-FIELDS: COUNT lines of type t with these extra fields
    python3 -c "
import json, sys
extra = json.loads(sys.argv[2])
for i in range(int(sys.argv[1])): print(json.dumps(dict(type='t', payload={'i': i}, **extra)))" "$1" "$2"
}

# ---- many batches of one group, two connections at once (PostgreSQL): they line up, in order --
ndjson 3000 '{"queue": "batches", "org": "A"}' > "$TMP/batches.ndjson"
timeout 120 "$WFQ" enqueue --ndjson "$TMP/batches.ndjson" --batch-size 50 > "$TMP/batches.ids" 2> "$TMP/batches.err" ||
    fail "60 batches of one group: $(cat "$TMP/batches.err")"
[ "$(wc -l < "$TMP/batches.ids")" = 3000 ] || fail "60 batches of one group enqueued $(wc -l < "$TMP/batches.ids") jobs"
# Each job's turn after the one before it: its group's line is the input's order.
"$WFQ" jobs list --queue batches --limit 0 --json | python3 -c "
import json, sys
jobs = sorted(json.load(sys.stdin), key=lambda j: j['id'])
ids = [j['id'] for j in jobs]
assert len(ids) == 3000 and all(j['group'] == 'A' for j in jobs), len(ids)
" || fail "the batches' jobs"
if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    inorder=$(psql -X -Atq -c "SELECT bool_and(k > prev) FROM (SELECT k, lag(k) OVER (ORDER BY id) AS prev FROM (SELECT id,
        run_at * 1000000 + turn_lag AS k FROM \"$WFQ_SCHEMA\".jobs WHERE queue = 'batches') a) b WHERE prev IS NOT NULL")
    [ "$inorder" = t ] || fail "the batches' turns are not in input order"
fi
"$WFQ" jobs cancel --queue batches --yes > /dev/null 2>&1
pass "3,000 jobs of one group in 60 batches of NDJSON (two connections on PostgreSQL) are enqueued"

# ---- two tenants: B's 100 jobs after A's 2,000 run early, taking turns with A's ---------------
ndjson 2000 '{"queue": "fair", "org": "A"}' | "$WFQ" enqueue --ndjson - > "$TMP/a.ids" 2> /dev/null
ndjson 100 '{"queue": "fair", "org": "B"}' | "$WFQ" enqueue --ndjson - > "$TMP/b.ids" 2> /dev/null
[ "$(wc -l < "$TMP/a.ids")" = 2000 ] && [ "$(wc -l < "$TMP/b.ids")" = 100 ] || fail "enqueue"
start=$(date +%s%N)
run_queue fair 4
fair_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(wc -l < "$TMP/order.fair")" = 2100 ] || fail "$(wc -l < "$TMP/order.fair") of 2100 jobs ran"
b=$(positions "$TMP/b.ids" "$TMP/order.fair")
last_b=$(echo "$b" | tr ' ' '\n' | tail -1)
# Turns 1:1: B's last job is about the 200th to start (a few more with 4 handlers at once).
[ "$last_b" -le 260 ] || fail "B's last job started at $last_b of 2100 (places: $b)"
# Interleaved, not in one block: between B's first and last job, as many of A's as of B's.
first_b=$(echo "$b" | cut -d' ' -f1)
[ $(( last_b - first_b + 1 - 100 )) -ge 70 ] || fail "B's jobs ran in one block, places $b"
pass "org B's 100 jobs enqueued after org A's 2,000 took turns with A's: places $first_b..$last_b of 2100 ($fair_ms ms for 2100 jobs)"

# ---- weights: group A with weight 3 takes 3 turns per round to B's 1 --------------------------
"$WFQ" limits set 'group:A' --weight 3 > /dev/null 2>&1
ndjson 600 '{"queue": "weighted", "org": "A"}' | "$WFQ" enqueue --ndjson - > "$TMP/wa.ids" 2> /dev/null
ndjson 200 '{"queue": "weighted", "org": "B"}' | "$WFQ" enqueue --ndjson - > "$TMP/wb.ids" 2> /dev/null
run_queue weighted 4
b_first_400=$(among_first "$TMP/wb.ids" "$TMP/order.weighted" 400)
# 3:1 gives B 100 of the first 400 (1:1 would give 200, first-in first-out none).
[ "$b_first_400" -ge 85 ] && [ "$b_first_400" -le 115 ] || fail "B had $b_first_400 of the first 400 starts, not about 100"
pass "weight 3 for group A: B had $b_first_400 of the first 400 starts (3:1 is 100)"

# A group:* rule gives every group its weight; the most specific rule wins.
"$WFQ" limits set 'group:*' --weight 2 > /dev/null 2>&1
ndjson 300 '{"queue": "star", "org": "A"}' | "$WFQ" enqueue --ndjson - > "$TMP/sa.ids" 2> /dev/null
ndjson 300 '{"queue": "star", "org": "C"}' | "$WFQ" enqueue --ndjson - > "$TMP/sc.ids" 2> /dev/null
run_queue star 4
c_first_200=$(among_first "$TMP/sc.ids" "$TMP/order.star" 200)
# A (3, its own rule) to C (2, group:*): C has 80 of the first 200.
[ "$c_first_200" -ge 65 ] && [ "$c_first_200" -le 95 ] || fail "C had $c_first_200 of the first 200 starts, not about 80"
"$WFQ" limits remove 'group:*' > /dev/null 2>&1
"$WFQ" limits remove 'group:A' > /dev/null 2>&1
pass "group:* gives its weight to groups without a rule of their own (C had $c_first_200 of the first 200 starts, 3:2 is 80)"

# ---- priority first; jobs without a group go by their due time --------------------------------
ndjson 50 '{"queue": "prio", "org": "A"}' | "$WFQ" enqueue --ndjson - > "$TMP/p0.ids" 2> /dev/null
ndjson 20 '{"queue": "prio", "org": "B", "priority": 5}' | "$WFQ" enqueue --ndjson - > "$TMP/p5.ids" 2> /dev/null
ndjson 10 '{"queue": "prio"}' | "$WFQ" enqueue --ndjson - > "$TMP/u.ids" 2> /dev/null
ndjson 10 '{"queue": "prio", "org": "C"}' | "$WFQ" enqueue --ndjson - > "$TMP/c.ids" 2> /dev/null
run_queue prio 1
[ "$(positions "$TMP/p5.ids" "$TMP/order.prio")" = "$(seq -s ' ' 1 20)" ] || fail "priority 5 first: $(positions "$TMP/p5.ids" "$TMP/order.prio")"
# C, enqueued last, joins the round at A's head; the jobs without a group, enqueued before C,
# run at their due time: after A's jobs (whose turns came before it), as without groups.
c=$(positions "$TMP/c.ids" "$TMP/order.prio")
u=$(positions "$TMP/u.ids" "$TMP/order.prio")
[ "$(echo "$c" | tr ' ' '\n' | tail -1)" -le 45 ] || fail "C's jobs did not take turns with A's: $c"
[ "$(echo "$u" | cut -d' ' -f1)" -gt 70 ] || fail "jobs without a group ran before A's earlier jobs: $u"
pass "priority comes first (places $(positions "$TMP/p5.ids" "$TMP/order.prio" | cut -d' ' -f1)..20); group C took turns with A (places $c); jobs without a group kept their due-time place ($u)"

# ---- why: waiting_turn ----------------------------------------------------------------------
ndjson 10 '{"queue": "why", "org": "A"}' | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
b_ids=$(ndjson 3 '{"queue": "why", "org": "B"}' | "$WFQ" enqueue --ndjson - 2> /dev/null)
later=$("$WFQ" enqueue t --queue why --org B --delay 1h)
"$WFQ" process --queue why --concurrency 1 --prefetch 0 --exec sleep 30 2> "$TMP/why.log" &
worker=$!
wait_for 20 sh -c "\"$WFQ\" jobs list --queue why --state running --json | grep -q '\"id\"'"
last_b=$(echo "$b_ids" | tail -1)
expect_exit 0 "$WFQ" why "$last_b"
contains "$OUT" "is due and waits for its group's turn: group 'B' takes 1 turn per round (no rule: the default)"
contains "$OUT" "2 due jobs of other groups and 2 of its own are ahead of it"
why_json=$("$WFQ" why "$last_b" --json)
[ "$(echo "$why_json" | jq_field "d['reason']")" = waiting_turn ] || fail "why --json: $why_json"
[ "$("$WFQ" why "$later" --json | jq_field "d['reason']")" = scheduled ] || fail "a job not yet due is scheduled"
"$WFQ" jobs list --queue why --state pending | grep -q "turn of group B" || fail "jobs list does not note the turn"
kill "$worker"
wait "$worker" 2> /dev/null || true
pass "why says waiting_turn with the group's place; jobs list notes the turn"

# ---- the SQL API: "group", the org by default, the same turns ----------------------------------
if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    S=$WFQ_SCHEMA
    sql() { psql -X -v ON_ERROR_STOP=1 -Atq "$@"; }
    one=$(sql -c "SELECT $S.enqueue('t', '{}', '{\"queue\": \"sql\", \"group\": \"G\"}')")
    [ "$(job_field "$one" group)" = G ] || fail "SQL enqueue group"
    [ "$(sql -c "SELECT grp FROM $S.jobs_view WHERE id = $one")" = G ] || fail "jobs_view's grp"
    many=$(sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"t\", \"queue\": \"sql\", \"org\": \"O\"}, {\"type\": \"t\", \"queue\": \"sql\"}]')")
    [ "$(job_field "$(echo "$many" | head -1)" group)" = O ] || fail "SQL: the org is the default group"
    [ "$(job_field "$(echo "$many" | tail -1)" group)" = None ] || fail "SQL: no org, no group"
    if psql -X -v ON_ERROR_STOP=1 -Atq -c '\set VERBOSITY verbose' \
        -c "SELECT $S.enqueue('t', '{}', '{\"group\": \"$long\"}')" > /dev/null 2> "$TMP/sql.err"; then
        fail "a long group through SQL"
    fi
    contains "$(cat "$TMP/sql.err")" "22023: group is too long (201 bytes, at most 200)"
    # Turns as the CLI's: 300 of A's, then 30 of B's through enqueue_many, in claim order.
    sql -c "SELECT count(*) FROM $S.enqueue_many((SELECT jsonb_agg(jsonb_build_object('type', 't', 'queue', 'sqlfair', 'org', 'A'))
                                                 FROM generate_series(1, 300)))" > /dev/null
    sql -c "SELECT count(*) FROM $S.enqueue_many((SELECT jsonb_agg(jsonb_build_object('type', 't', 'queue', 'sqlfair', 'org', 'B'))
                                                 FROM generate_series(1, 30)))" > /dev/null
    sql -c "SELECT $S.enqueue('t', '{}', '{\"queue\": \"sqlfair\", \"org\": \"B\"}')" > /dev/null
    run_queue sqlfair 1
    sql -c "SELECT id FROM $S.jobs WHERE queue = 'sqlfair' AND grp = 'B'" > "$TMP/sqlb.ids"
    last=$(positions "$TMP/sqlb.ids" "$TMP/order.sqlfair" | tr ' ' '\n' | tail -1)
    [ "$last" -le 64 ] || fail "B's 31 jobs through SQL ended at place $last of 331"
    pass "the SQL API takes \"group\" (the org by default; 22023 for a bad one) and sets the same turns (B's last at $last of 331)"

    # An application holding its transaction open after enqueueing for groups G1 and G2 holds up
    # no other SQL producer of them: another transaction enqueues for G2 then G1 (the order that
    # deadlocked when a call waited for the group's row) and commits while the first is open,
    # and its own jobs keep their order although it could not take the rows.
    # (The groups' rows exist: creating a group's row is the one wait left, wfq-sql(7).)
    sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"t\", \"queue\": \"nowait\", \"group\": \"G1\"},
            {\"type\": \"t\", \"queue\": \"nowait\", \"group\": \"G2\"}]')" > /dev/null
    mkfifo "$TMP/hold.in"
    psql -X -v ON_ERROR_STOP=1 -Atq < "$TMP/hold.in" > "$TMP/hold.out" 2>&1 &
    holder=$!
    exec 7> "$TMP/hold.in"
    echo "BEGIN; SELECT * FROM $S.enqueue_many('[{\"type\": \"t\", \"queue\": \"nowait\", \"group\": \"G1\"},
          {\"type\": \"t\", \"queue\": \"nowait\", \"group\": \"G2\"}]');" >&7
    wait_for 10 grep -q . "$TMP/hold.out"  # its two ids: the rows are its until it ends
    timeout 20 psql -X -v ON_ERROR_STOP=1 -Atq -c "BEGIN" \
        -c "SELECT $S.enqueue('t', '{\"n\": 1}', '{\"queue\": \"nowait\", \"group\": \"G2\"}')" \
        -c "SELECT $S.enqueue('t', '{\"n\": 2}', '{\"queue\": \"nowait\", \"group\": \"G1\"}')" \
        -c "SELECT $S.enqueue('t', '{\"n\": 3}', '{\"queue\": \"nowait\", \"group\": \"G1\"}')" \
        -c "SELECT $S.enqueue('t', '{\"n\": 4}', '{\"queue\": \"nowait\", \"group\": \"G2\"}')" \
        -c "COMMIT" > "$TMP/second.out" 2>&1 || fail "a second producer of the groups waited for the first: $(cat "$TMP/second.out")"
    kill -0 "$holder" 2> /dev/null || fail "the first transaction ended early: $(cat "$TMP/hold.out")"
    [ "$(sql -c "SELECT count(*) FROM $S.jobs WHERE queue = 'nowait'")" = 6 ] || fail "the second producer's 4 jobs are not committed alone"
    echo "COMMIT;" >&7
    exec 7>&-
    expect_wait 0 "$holder" "the first producer" "$TMP/hold.out"
    [ "$(sql -c "SELECT count(*) FROM $S.jobs WHERE queue = 'nowait'")" = 8 ] || fail "the first producer's jobs"
    for g in G1 G2; do
        inorder=$(sql -c "SELECT bool_and(k > prev) FROM (SELECT k, lag(k) OVER (ORDER BY id) AS prev FROM (SELECT id,
            run_at * 1000000 + turn_lag AS k FROM $S.jobs WHERE queue = 'nowait' AND grp = '$g' AND payload ? 'n') a) b
            WHERE prev IS NOT NULL")
        [ "$inorder" = t ] || fail "one transaction's jobs of $g are out of order: $(sql -c "SELECT id, run_at * 1000000 + turn_lag
            FROM $S.jobs WHERE queue = 'nowait' ORDER BY id")"
    done
    pass "an open transaction that enqueued for two groups holds up no other SQL producer of them (no wait, no deadlock; order kept)"
fi
