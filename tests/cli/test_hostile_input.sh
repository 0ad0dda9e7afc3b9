# What a short fuzzing probe (issue 27) found through the real CLI, each now refused with the
# documented exit code and a message naming what is wrong, or handled: no crash, no wrapped or
# truncated number stored, no password shown. The fuzzers in tests/fuzz/ keep looking.
. "$(dirname "$0")/lib.sh"

count() { "$WFQ" jobs list --limit 0 --json | jq_field "len(d)"; }

# --- DSNs: a long URL crashed the regex that redacted it; libpq's forms of passwords leaked.
WFQ_DB="http://$(head -c 100000 /dev/zero | tr '\0' a)" expect_exit 78 "$WFQ" jobs list
contains "$ERR" "unrecognised database URL 'http://aaaa"
for dsn in 'postgresql://u:pw zq9@%2Fnonexistent-wfq/db' 'postgresql://%2Fnonexistent-wfq/db?password=pw@zq9' \
           'host=/nonexistent-wfq password=pw\ zq9 dbname=x' "host=/nonexistent-wfq password='it\\'s zq9' dbname=x"; do
    set +e
    WFQ_DB="$dsn" WFQ_DB_RETRIES=1 "$WFQ" --log-level debug jobs list > "$TMP/out" 2> "$TMP/err"
    code=$?
    set -e
    [ "$code" = 69 ] || [ "$code" = 78 ] || fail "$dsn: exit $code: $(cat "$TMP/err")"
    grep -q 'connecting to the database' "$TMP/err" || fail "$dsn: no connection log line: $(cat "$TMP/err")"
    if grep -q zq9 "$TMP/err"; then fail "$dsn: the password shows: $(cat "$TMP/err")"; fi
done
pass "a 100 KB URL exits 78 naming it; passwords with blanks, '@' or escapes are hidden in every message"

# --- state diff: deep nesting crashed it; numbers beyond 2^53 or at 2^64 compared equal.
python3 -c "print('[' * 100000 + ']' * 100000)" > "$TMP/deep.json"
echo '[]' > "$TMP/empty.json"
expect_exit 65 "$WFQ" state diff "$TMP/empty.json" "$TMP/deep.json"
contains "$ERR" "NEW $TMP/deep.json is nested more than 1000 levels deep"
echo '[18446744073709551615]' > "$TMP/a.json"
echo '[-1]' > "$TMP/b.json"
expect_exit 0 "$WFQ" state diff "$TMP/a.json" "$TMP/b.json"
[ "$OUT" = '[{"op":"replace","path":"/0","value":-1}]' ] || fail "2^64 - 1 and -1 differ: $OUT"
echo '{"n": 9007199254740993}' > "$TMP/a.json"
echo '{"n": 9007199254740992.0}' > "$TMP/b.json"
expect_exit 0 "$WFQ" state diff "$TMP/a.json" "$TMP/b.json"
[ "$OUT" = '[{"op":"replace","path":"/n","value":9.007199254740992e+15}]' ] || fail "2^53 + 1 and 2^53 differ: $OUT"
printf '[1]\0[2]' > "$TMP/nul.json"
expect_exit 65 "$WFQ" state diff "$TMP/empty.json" "$TMP/nul.json"
contains "$ERR" "has a NUL byte at byte 4"
pass "state diff: 100000 levels of nesting and a NUL byte exit 65; integers beyond 2^53 and at 2^64 are compared exactly"

# --- workflow check: a 3-byte file and a byte order mark crashed it, 40 KB took 870 MB.
printf '0\0]' > "$TMP/three.json"
expect_exit 65 "$WFQ" workflow check "$TMP/three.json"
contains "$ERR" "three.json: has a NUL byte at byte 2"
printf '\357\273\277{"type": "t", "stages": [{"name": "a", "exec": ["true"]}]}\n' > "$TMP/bom.json"
expect_exit 0 "$WFQ" workflow check "$TMP/bom.json"
python3 -c "print('{\"type\": \"t\", \"x\": ' + '[' * 20000 + ']' * 20000 + '}')" > "$TMP/deep-wf.json"
expect_exit 65 /usr/bin/time -f '%M' -o "$TMP/rss" "$WFQ" workflow check "$TMP/deep-wf.json"
contains "$ERR" "deep-wf.json: is nested more than 1000 levels deep"
[ "$(tail -1 "$TMP/rss")" -lt "$(bound_kb 200000)" ] || fail "refusing 40 KB took $(tail -1 "$TMP/rss") KB"
printf '{"type": "t", "state": {"compress_above": 1e400}, "stages": [{"name": "a", "exec": ["true"]}]}' > "$TMP/big-number.json"
expect_exit 65 "$WFQ" workflow check "$TMP/big-number.json"
contains "$ERR" "big-number.json: invalid JSON: "
printf '{"type": "t", "retry": {"max_attempts": 4294967297}, "stages": [{"name": "a", "exec": ["true"]}]}' > "$TMP/wrap.json"
expect_exit 65 "$WFQ" workflow check "$TMP/wrap.json"
contains "$ERR" "retry.max_attempts: must be between 1 and 1000"
pass "workflow check: a NUL byte, 40 KB of nesting (under 200 MB), 1e400 and 2^32 + 1 attempts exit 65; a byte order mark is skipped"

# --- payloads and NDJSON: a NUL byte on stdin was stored with what followed; 2^32 narrowed.
printf '{"a":1}\0{"b":2}' > "$TMP/nul-payload.json"
expect_exit 65 sh -c '"$0" enqueue t - < "$1"' "$WFQ" "$TMP/nul-payload.json"
contains "$ERR" "payload has a NUL byte at byte 8"
printf '{"type":"t","priority":4294967296}\n' > "$TMP/prio.ndjson"
expect_exit 65 sh -c '"$0" enqueue --ndjson - < "$1"' "$WFQ" "$TMP/prio.ndjson"
contains "$ERR" "line 1: priority must be between -1000000 and 1000000"
printf '{"type":"t","max_attempts":4294967297}\n' > "$TMP/attempts.ndjson"
expect_exit 65 sh -c '"$0" enqueue --ndjson - < "$1"' "$WFQ" "$TMP/attempts.ndjson"
contains "$ERR" "line 1: max attempts must be between 1 and 1000"
[ "$(count)" = 0 ] || fail "a refused job was stored"
pass "a NUL byte in a payload, priority 2^32 and max_attempts 2^32 + 1 exit 65; nothing stored"

# --- times and durations: exact RFC 3339, no wrapping sums, at most 100 years.
for t in '+026-11-25T17:00:00Z' '2026-11-25T-1:-5:-9Z' '2026-02-30T00:00:00Z'; do
    expect_exit 2 "$WFQ" enqueue t '{}' --run-at "$t"
    contains "$ERR" "invalid time '$t'"
done
expect_exit 2 "$WFQ" enqueue t '{}' --delay 53375995583d53375995583d
contains "$ERR" "--delay: invalid duration '53375995583d53375995583d': too large (at most 36500d)"
expect_exit 2 "$WFQ" backoff preview --max 10000000000d
contains "$ERR" "too large (at most 36500d)"
expect_exit 0 "$WFQ" backoff preview --max 36500d --base 1d --attempts 3
[ "$(count)" = 0 ] || fail "a refused job was stored"
pass "--run-at +026-… or -1:-5:-9 or Feb 30, a --delay whose parts overflow, 10^10 days exit 2"
