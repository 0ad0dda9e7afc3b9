# enqueue, idempotency, NDJSON batches and bad input with documented exit codes.
. "$(dirname "$0")/lib.sh"

id=$("$WFQ" enqueue review '{"pr": 1}' --priority 5 --org acme --repo widgets)
[ "$id" -ge 1 ] || fail "enqueue printed '$id'"
[ "$(job_field "$id" type)" = review ] || fail "type not stored"
[ "$(job_field "$id" priority)" = 5 ] || fail "priority not stored"
pass "enqueue prints the id"

expect_exit 0 "$WFQ" enqueue review '{"pr": 2}' --key pr-2 --json
first=$(echo "$OUT" | jq_field "d['id']")
[ "$(echo "$OUT" | jq_field "d['state']")" = pending ] || fail "--json state"
expect_exit 0 "$WFQ" enqueue review '{"pr": 2}' --key pr-2
[ "$OUT" = "$first" ] || fail "duplicate key returned $OUT, want $first"
contains "$ERR" "already exists"
pass "a duplicate key returns the existing id and says so"

echo '{"from": "stdin"}' | "$WFQ" enqueue piped - >/dev/null
"$WFQ" jobs list --type piped --json | jq_field "d[0]['payload']['from']" | grep -x stdin > /dev/null || fail "payload from stdin"
TRACEPARENT=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 "$WFQ" enqueue traced > "$TMP/id"
# The job carries the producer span's context: the caller's trace, a new span id.
case "$(job_field "$(cat "$TMP/id")" traceparent)" in
    00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01) fail "the producer span was not recorded" ;;
    00-4bf92f3577b34da6a3ce929d0e0e4736-*-01) ;;
    *) fail "TRACEPARENT's trace not continued" ;;
esac
expect_exit 0 "$WFQ" enqueue traced --traceparent 00-BAD
contains "$ERR" "invalid traceparent"
pass "payload from stdin; traceparent from the environment; an invalid one warns"

expect_exit 65 "$WFQ" enqueue t '{not json'
contains "$ERR" "not valid JSON"
expect_exit 65 "$WFQ" enqueue t '[1,2]'
expect_exit 2 "$WFQ" enqueue t '{}' --delay soon
contains "$ERR" "invalid duration"
expect_exit 2 "$WFQ" enqueue t '{}' --run-at yesterday
expect_exit 2 "$WFQ" enqueue t '{}' --max-attempts 0
expect_exit 2 "$WFQ" enqueue t '{}' --priority 99999999
expect_exit 2 "$WFQ" enqueue t '{}' --no-such-flag
expect_exit 2 "$WFQ" enqueue ''
expect_exit 2 "$WFQ" jobs list --state exploded
contains "$ERR" "unknown state"
expect_exit 4 "$WFQ" jobs show 999999
expect_exit 2 "$WFQ" jobs show abc
pass "bad input exits 65 or 2 with a message; unknown job exits 4"

before=$("$WFQ" jobs list --limit 100000 --json | jq_field "len(d)")
python3 - > "$TMP/good.ndjson" <<'PY'
import json
for i in range(25):
    print(json.dumps({"type": "bulk", "payload": {"i": i}, "priority": i % 3}))
PY
"$WFQ" enqueue --ndjson "$TMP/good.ndjson" --batch-size 10 > "$TMP/ids"
[ "$(wc -l < "$TMP/ids")" = 25 ] || fail "ndjson printed $(wc -l < "$TMP/ids") ids"
{ head -n 12 "$TMP/good.ndjson"; echo '{"type": "bulk", "payload": '; head -n 3 "$TMP/good.ndjson"; } > "$TMP/bad.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/bad.ndjson" --batch-size 10
contains "$ERR" "line 13"
contains "$ERR" "10 jobs were committed before it"
after=$("$WFQ" jobs list --limit 100000 --json | jq_field "len(d)")
[ "$after" = $((before + 25 + 10)) ] || fail "expected $((before + 35)) jobs, found $after: the bad line's batch leaked"
pass "NDJSON: ids per line; a bad line exits 65 naming it and commits only whole batches before it"

# Batches are committed by a writer thread while the next ones are parsed: with batches of 4,
# three are handed over (some still in the database) when line 15 turns out bad. All three
# commit, in order, their ids printed; the bad line's batch does not.
{ head -n 14 "$TMP/good.ndjson"; echo '{"type": "bulk", "payload": [}'; tail -n 5 "$TMP/good.ndjson"; } > "$TMP/bad2.ndjson"
expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/bad2.ndjson" --batch-size 4
contains "$ERR" "line 15"
contains "$ERR" "12 jobs were committed before it; its batch (2 earlier lines) was not committed"
[ "$(printf '%s\n' "$OUT" | grep -c .)" = 12 ] || fail "expected the 12 committed ids on stdout, got: $OUT"
printf '%s\n' "$OUT" | sort -n -c || fail "ids out of order: $OUT"
final=$("$WFQ" jobs list --limit 100000 --json | jq_field "len(d)")
[ "$final" = $((after + 12)) ] || fail "expected $((after + 12)) jobs, found $final"
pass "NDJSON pipeline: batches handed to the writer before a bad line commit in order; its own batch does not"

if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    # On PostgreSQL two connections write batches at once and commit them in input order. The
    # server refuses a row of batch 7 (a trigger raises): batches 1-6 commit, and the batches
    # after it, some already written on the other connection, roll back. The ids printed are
    # exactly the committed ones, in line order.
    psql -Xq -v ON_ERROR_STOP=1 -c "SET search_path TO \"$WFQ_SCHEMA\";
      CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS
        \$\$ BEGIN RAISE EXCEPTION 'refused by the test'; END \$\$;
      CREATE TRIGGER refuse_boom BEFORE INSERT ON jobs FOR EACH ROW
        WHEN (NEW.payload ? 'boom') EXECUTE FUNCTION refuse_boom();"
    python3 - > "$TMP/refused.ndjson" <<'PY'
import json
for i in range(1, 1001):
    print(json.dumps({"type": "ordered", "payload": {"boom": 1} if i == 321 else {"i": i}}))
PY
    expect_exit 1 "$WFQ" enqueue --ndjson "$TMP/refused.ndjson" --batch-size 50
    contains "$ERR" "refused by the test"
    [ "$(printf '%s\n' "$OUT" | grep -c .)" = 300 ] || fail "expected the 300 committed ids on stdout, got $(printf '%s\n' "$OUT" | grep -c .)"
    printf '%s\n' "$OUT" | sort -n -c || fail "ids out of order"
    stored=$(psql -XAtc "SELECT count(*), min(id), max(id) FROM \"$WFQ_SCHEMA\".jobs WHERE type = 'ordered'")
    [ "$stored" = "300|$(printf '%s\n' "$OUT" | head -n 1)|$(printf '%s\n' "$OUT" | tail -n 1)" ] ||
        fail "stored (count|min|max) $stored; not the 300 printed"
    psql -Xq -c "DROP TRIGGER refuse_boom ON \"$WFQ_SCHEMA\".jobs"
    pass "NDJSON on two connections: a batch the server refuses commits nothing after it; ids in order"

    # A queue no job had yet, in two batches on the two connections: the first batch carries a
    # 24 MB payload, so the second's COPY ends first. Its queue's name was then registered
    # (job_queues) by the second batch, uncommitted, and the first batch's registration waited
    # for it while the second waited for the first to commit: the enqueue hung for ever
    # (migration 20's trigger). The names are registered in batch order now.
    python3 - > "$TMP/newq.ndjson" <<'PY'
import json
for i in range(64):
    payload = {"big": "x" * (24 << 20)} if i == 0 else {"i": i}
    print(json.dumps({"type": "newq", "queue": "fresh_queue", "payload": payload}))
PY
    expect_exit 0 timeout 120 "$WFQ" enqueue --ndjson "$TMP/newq.ndjson" --batch-size 32
    [ "$(printf '%s\n' "$OUT" | grep -c .)" = 64 ] || fail "expected 64 ids, got $(printf '%s\n' "$OUT" | grep -c .)"
    [ "$(psql -XAtc "SELECT count(*) FROM \"$WFQ_SCHEMA\".job_queues WHERE queue = 'fresh_queue'")" = 1 ] ||
        fail "fresh_queue not registered once in job_queues"
    "$WFQ" jobs list --queue fresh_queue --limit 0 --json | jq_field "len(d)" | grep -x 64 > /dev/null ||
        fail "jobs list --queue fresh_queue does not show the 64 jobs"
    pass "NDJSON on two connections: a new queue in both batches, the later batch's COPY first, does not hang"
fi

"$WFQ" enqueue "x'); DROP TABLE jobs; --" '{"q": "'"'"'; --"}' --key "k' OR 1=1" >/dev/null
"$WFQ" jobs list --type "x'); DROP TABLE jobs; --" --json | jq_field "d[0]['key']" | grep -x "k' OR 1=1" > /dev/null || fail "metacharacters"
pass "SQL metacharacters in names and keys are data"

expect_exit 69 env WFQ_DB_RETRIES=2 "$WFQ" --db postgresql://127.0.0.1:1/nowhere jobs list
contains "$ERR" "cannot connect"
expect_exit 78 "$WFQ" --db mysql://x jobs list
if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    expect_exit 78 "$WFQ" --schema "never_migrated_$$" jobs list
    contains "$ERR" "wfq migrate"
    expect_exit 0 "$WFQ" --schema "never_migrated_$$" migrate --status
    contains "$OUT" "pending"
fi
pass "unreachable database exits 69; bad URL and missing schema exit 78"

expect_exit 0 "$WFQ" backoff preview --preset standard --attempts 6 --json
[ "$(echo "$OUT" | jq_field "[s['delay_ms'] for s in d]")" = "[1000, 2000, 4000, 8000, 16000, 30000]" ] || fail "standard schedule: $OUT"
[ "$(echo "$OUT" | jq_field "(d[0]['retry'], d[0]['min_ms'], d[0]['max_ms'], 'sample_ms' in d[0])")" = "(1, 750, 1250, False)" ] || fail "bounds"
a=$("$WFQ" backoff preview --preset FAST --seed 7 --json); b=$("$WFQ" backoff preview --preset fast --seed 7 --json)
[ "$a" = "$b" ] || fail "seeded samples differ"
echo "$a" | jq_field "all(s['min_ms'] <= s['sample_ms'] <= s['max_ms'] for s in d)" | grep -x True > /dev/null || fail "samples out of bounds"
expect_exit 0 "$WFQ" backoff preview --base 100ms --max 1s --multiplier 1 --no-jitter --attempts 3 --json
[ "$(echo "$OUT" | jq_field "[(s['delay_ms'], s['min_ms'], s['max_ms']) for s in d]")" = "[(100, 100, 100), (200, 200, 200), (300, 300, 300)]" ] || fail "custom linear: $OUT"
expect_exit 2 "$WFQ" backoff preview --preset SLOWLY
expect_exit 2 "$WFQ" backoff preview --jitter 3
pass "backoff preview: DESIGN's formula and JSON shape, reproducible seeded samples, bad presets exit 2"
