# Bad input is refused before the database, alike on both backends (one queue, one contract):
# JSON that PostgreSQL's jsonb cannot hold (\u0000, a byte order mark, deep nesting) exits 65
# naming the field; names and keys that are not UTF-8, hold control characters or are too
# long exit 2; nothing is stored and no server error text reaches the user. What handlers
# produce is kept only when every backend can keep it.
. "$(dirname "$0")/lib.sh"

# refused CODE TEXT CMD...: CMD exits CODE, says TEXT, and shows no database error.
refused() {
    local code=$1 text=$2; shift 2
    expect_exit "$code" "$@"
    contains "$ERR" "$text"
    case "$ERR" in *"database error"*|*"ERROR:"*|*"portal"*|*"invalid byte sequence"*|*"Unicode escape"*) fail "server error text reached the user: $ERR" ;; esac
}
count() { "$WFQ" jobs list --limit 100000 --json | jq_field "len(d)"; }
bad=$(printf 'a\377b')  # not UTF-8
long_key=$(head -c 1001 /dev/zero | tr '\0' k)

# --- payloads
refused 65 'payload: the string at /x contains \u0000 (NUL)' "$WFQ" enqueue t '{"x": "a\u0000b"}'
refused 65 'payload: the key "k\u0000" in the object at /o contains \u0000' "$WFQ" enqueue t '{"o": {"k\u0000": 1}}'
refused 65 "payload is not valid JSON" "$WFQ" enqueue t "{\"x\": \"$bad\"}"
printf '{"x": "\377"}' > "$TMP/latin1.json"
refused 65 "payload is not valid JSON" sh -c '"$0" enqueue t - < "$1"' "$WFQ" "$TMP/latin1.json"
printf '\357\273\277{"x": 1}' > "$TMP/bom.json"
refused 65 "byte order mark" sh -c '"$0" enqueue t - < "$1"' "$WFQ" "$TMP/bom.json"
refused 65 "payload is not valid JSON" "$WFQ" enqueue t '{"x": "\ud800"}'
refused 65 "number overflow" "$WFQ" enqueue t '{"x": 1e400}'
deep=$(python3 -c "print('{\"a\": ' + '[' * 1500 + ']' * 1500 + '}')")
refused 65 "payload is nested more than 1000 levels deep" "$WFQ" enqueue t "$deep"
[ "$(count)" = 0 ] || fail "a refused payload was stored"
ok=$("$WFQ" enqueue t '{"x": "a\\u0000b", "y": "\u00e9\ud83d\ude00", "z": "\u0001"}')
[ "$("$WFQ" jobs show "$ok" --json | jq_field "d['payload']")" = "{'x': 'a\\\\u0000b', 'y': 'é😀', 'z': '\\x01'}" ] \
    || fail "escaped backslashes, pairs of surrogates and other control escapes are data: $("$WFQ" jobs show "$ok" --json)"
pass "payloads with \\u0000 (named by pointer), invalid UTF-8 (argument or stdin), a byte order mark, a lone surrogate, 1e400 or 1500 levels of nesting exit 65; nothing stored"

# --- names and keys
refused 2 "job type is not valid UTF-8" "$WFQ" enqueue "$bad" '{}'
refused 2 "job type must not contain control characters (U+000A)" "$WFQ" enqueue $'t\nx' '{}'
refused 2 "job type is too long (201 bytes, at most 200)" "$WFQ" enqueue "$(head -c 201 /dev/zero | tr '\0' t)" '{}'
refused 2 "queue is not valid UTF-8" "$WFQ" enqueue t '{}' --queue "$bad"
refused 2 "key is too long (1001 bytes, at most 1000)" "$WFQ" enqueue t '{}' --key "$long_key"
refused 2 "key must not contain control characters (U+0009)" "$WFQ" enqueue t '{}' --key $'a\tb'
refused 2 "lock key is not valid UTF-8" "$WFQ" enqueue t '{}' --lock-key "$bad"
refused 2 "org is not valid UTF-8" "$WFQ" enqueue t '{}' --org "$bad"
refused 2 "repo must not contain control characters" "$WFQ" enqueue t '{}' --org a --repo $'r\x7f'
refused 2 "correlation id is not valid UTF-8" "$WFQ" enqueue t '{}' --correlation-id "$bad"
[ "$(count)" = 1 ] || fail "a refused job was stored"
refused 2 "--type is not valid UTF-8" "$WFQ" jobs list --type "$bad"
refused 2 "--queue must not contain control characters" "$WFQ" jobs list --queue $'q\n'
refused 2 "--queue is not valid UTF-8" "$WFQ" process --queue "$bad" --until-empty --exec true
refused 2 "lock key is not valid UTF-8" "$WFQ" lock acquire "$bad"
refused 2 "lock key is too long" "$WFQ" lock run "$long_key" -- true
refused 2 "lock owner must not contain control characters" "$WFQ" lock acquire k --owner $'me\r'
[ "$("$WFQ" lock list --json)" = "[]" ] || fail "a refused lock was taken"
if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    refused 2 "invalid schema name" "$WFQ" --schema 'x"; DROP SCHEMA public; --' jobs list
fi
pass "names and keys that are not UTF-8, hold control characters or are too long exit 2 and name the field"

# --- NDJSON: the line number, nothing of its batch committed
python3 - > "$TMP/jobs.ndjson" <<'PY'
import json
for i in range(7):
    print(json.dumps({"type": "bulk", "payload": {"i": i}}))
print('{"type": "bulk", "payload": {"i": 7, "note": "a\\u0000b"}}')
print(json.dumps({"type": "bulk", "payload": {"i": 8}}))
PY
refused 65 "line 8: the string at /payload/note contains \u0000" "$WFQ" enqueue --ndjson "$TMP/jobs.ndjson" --batch-size 5
contains "$ERR" "5 jobs were committed before it"
[ "$(count)" = 6 ] || fail "expected 1 + 5 jobs, found $(count): the bad line's batch leaked"
{ echo '{"type": "bulk"}'; printf '{"type": "bulk", "payload": {"x": "\377"}}\n'; } > "$TMP/latin1.ndjson"
refused 65 "line 2: not valid JSON" sh -c '"$0" enqueue --ndjson - < "$1"' "$WFQ" "$TMP/latin1.ndjson"
{ echo '{"type": "bulk"}'; echo "{\"type\": \"bulk\", \"key\": \"$long_key\"}"; } > "$TMP/long.ndjson"
refused 65 "line 2: key is too long" "$WFQ" enqueue --ndjson "$TMP/long.ndjson"
printf '{"type": "bulk"}\n{"type": "t\\u0000"}\n' > "$TMP/nultype.ndjson"
refused 65 "line 2: the string at /type contains \u0000" "$WFQ" enqueue --ndjson "$TMP/nultype.ndjson"
printf '{"type": "bulk"}\n{"type": "t\\u0007"}\n' > "$TMP/beltype.ndjson"
refused 65 "line 2: job type must not contain control characters (U+0007)" "$WFQ" enqueue --ndjson "$TMP/beltype.ndjson"
[ "$(count)" = 6 ] || fail "a refused NDJSON batch was stored"
pass "NDJSON: \\u0000, invalid UTF-8, a bad name or key exit 65 naming the line (and the pointer); nothing of its batch is committed"

# --- config documents and signals
"$WFQ" config set org:acme '{"model": "large"}' 2> /dev/null
refused 65 'config: the string at /model contains \u0000' "$WFQ" config set org:acme '{"model": "\u0000"}'
refused 65 "config is not valid JSON" sh -c '"$0" config set org:acme - < "$1"' "$WFQ" "$TMP/latin1.json"
refused 65 "config is nested more than 1000 levels deep" "$WFQ" config set org:acme "$deep"
refused 2 "it is not valid UTF-8" "$WFQ" config set "org:$bad" '{}'
[ "$("$WFQ" config get org:acme --json | jq_field "d['model']")" = large ] || fail "a refused config changed the stored one"
refused 65 '--data: the string at /by contains \u0000' "$WFQ" signal approved --key 7 --data '{"by": "\u0000"}'
refused 65 "--data is not valid JSON" sh -c '"$0" signal approved --key 7 --data - < "$1"' "$WFQ" "$TMP/latin1.json"
refused 2 "EVENT is not valid UTF-8" "$WFQ" signal "$bad" --key 7
refused 2 "--key is too long" "$WFQ" signal approved --key "$long_key"
refused 2 "--key must not contain control characters" "$WFQ" signal approved --key $'7\n'
pass "config documents and signal data with \\u0000, invalid UTF-8 or deep nesting exit 65; bad scopes, events and keys exit 2; nothing changes"

# --- what handlers produce
cat > "$TMP/nul_result.sh" <<'SH'
#!/bin/sh
cat > /dev/null
printf '{"x": "a\\u0000b"}\n'
SH
cat > "$TMP/bad_stderr.sh" <<'SH'
#!/bin/sh
cat > /dev/null
i=0; while [ $i -lt 3000 ]; do printf '\303\251' >&2; i=$((i+1)); done
printf 'x\000y\377\n' >&2
exit 1
SH
chmod +x "$TMP/nul_result.sh" "$TMP/bad_stderr.sh"
kept=$("$WFQ" enqueue nul_result '{}')
"$WFQ" process --until-empty --type nul_result --exec "$TMP/nul_result.sh" 2> "$TMP/worker.log"
[ "$(job_field "$kept" state)" = completed ] || fail "a job whose output cannot be kept should still complete"
[ "$(job_field "$kept" result)" = None ] || fail "an unstorable result was kept: $(job_field "$kept" result)"
contains "$(cat "$TMP/worker.log")" "handler output: the string at /x contains \\u0000 (NUL)"
contains "$(cat "$TMP/worker.log")" "result not kept"
stderr_job=$("$WFQ" enqueue bad_stderr '{}' --max-attempts 1)
"$WFQ" process --until-empty --type bad_stderr --exec "$TMP/bad_stderr.sh" 2> "$TMP/worker2.log" \
    || { tail -5 "$TMP/worker2.log"; fail "the worker failed on a handler's stderr"; }
[ "$(job_field "$stderr_job" state)" = failed ] || { tail -5 "$TMP/worker2.log"; fail "the failing handler's job is $(job_field "$stderr_job" state)"; }
"$WFQ" jobs show "$stderr_job" --json | python3 -c "
import json, sys
e = json.load(sys.stdin)['last_error']
assert e.startswith('é') and e.rstrip().endswith('x\ufffdy\ufffd') and '\x00' not in e, repr(e[:20] + '...' + e[-20:])" \
    || fail "last_error is not the stderr tail as valid UTF-8"
pass "an exec handler's result with \\u0000 is not kept (the job completes, the log says why); a stderr tail with a split character, NUL and bad bytes is stored as valid UTF-8"

cat > "$TMP/nul_stage.sh" <<'SH'
#!/bin/sh
cat > /dev/null
printf '{"x": "a\\u0000b"}\n'
SH
cat > "$TMP/bad_wait.sh" <<'SH'
#!/bin/sh
cat > /dev/null
printf '{"$wait": {"event": "approved", "key": "a\\nb"}}\n'
SH
chmod +x "$TMP/nul_stage.sh" "$TMP/bad_wait.sh"
cat > "$TMP/stages.json" <<EOF
{"type": "nul_stage", "retry": {"max_attempts": 1}, "stages": [{"name": "emit", "exec": ["$TMP/nul_stage.sh"]}]}
EOF
cat > "$TMP/wait.json" <<EOF
{"type": "bad_wait", "retry": {"max_attempts": 1}, "stages": [{"name": "ask", "exec": ["$TMP/bad_wait.sh"]}]}
EOF
printf '{"type": "t\\u0000", "stages": [{"name": "a", "exec": ["true"]}]}' > "$TMP/nul_type.json"
refused 65 "type: must not contain control characters (U+0000)" "$WFQ" workflow check "$TMP/nul_type.json"
stage_job=$("$WFQ" enqueue nul_stage '{}')
wait_job=$("$WFQ" enqueue bad_wait '{}')
"$WFQ" process --workflow "$TMP/stages.json" --workflow "$TMP/wait.json" --until-empty 2> "$TMP/worker3.log" \
    || { tail -5 "$TMP/worker3.log"; fail "the pipeline worker failed"; }
[ "$(job_field "$stage_job" state)" = failed ] && [ "$(job_field "$stage_job" error_class)" = bad_output ] \
    || fail "a stage output with \\u0000: $(job_field "$stage_job" state) $(job_field "$stage_job" error_class)"
contains "$(job_field "$stage_job" last_error)" "stage emit: its output: the string at /x contains \\u0000"
[ "$(job_field "$wait_job" state)" = failed ] && [ "$(job_field "$wait_job" error_class)" = bad_output ] \
    || fail "a \$wait key with a newline: $(job_field "$wait_job" state) $(job_field "$wait_job" error_class)"
contains "$(job_field "$wait_job" last_error)" "\$wait key must not contain control characters (U+000A)"
pass "workflow names are checked; a stage output with \\u0000 and a \$wait key with a newline fail the job (bad_output) with the reason"
