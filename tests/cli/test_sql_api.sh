# The SQL API (wfq-sql(7)): enqueue, enqueue_many, signal, cancel and api_version in the queue's
# schema, called inside the caller's transaction: the job exists iff it commits, an idle worker
# starts it at the commit, bad input raises SQLSTATE 22023 with the CLI's words, key modes as
# the CLI's (racing with it), and a producer-only role needs its GRANTs.
# wfq-test: postgresql-only
. "$(dirname "$0")/lib.sh"

S=$WFQ_SCHEMA
sql() { psql -X -v ON_ERROR_STOP=1 -Atq "$@"; }
# sql_error SQL: runs it, expecting an error; $ERR gets "SQLSTATE: message".
sql_error() {
    if psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -Atq -c '\set VERBOSITY verbose' -c "$1" > "$TMP/sql.out" 2> "$TMP/sql.err"; then
        fail "no error from: $1"
    fi
    ERR=$(sed -n 's/^ERROR: *//p' "$TMP/sql.err" | head -1)
}

[ "$(sql -c "SELECT $S.api_version()")" = 1 ] || fail "api_version"
pass "api_version() is 1"

# ---- the caller's transaction decides --------------------------------------------------------
sql -c "CREATE TABLE $S.app_rows (pr int)"
sql -c "BEGIN; INSERT INTO $S.app_rows VALUES (1); SELECT $S.enqueue('review', '{\"pr\": 1}'); ROLLBACK;" > /dev/null
[ "$("$WFQ" jobs list --type review --json | jq_field 'len(d)')" = 0 ] || fail "a rolled-back enqueue left a job"
id=$(sql -c "BEGIN" -c "INSERT INTO $S.app_rows VALUES (2)" -c "SELECT $S.enqueue('review', '{\"pr\": 2}')" -c "COMMIT")
[ "$(job_field "$id" state)" = pending ] || fail "a committed enqueue has no job"
[ "$(job_field "$id" queue)" = default ] || fail "default queue"
[ "$(job_field "$id" priority)" = 0 ] || fail "default priority"
[ "$(job_field "$id" max_attempts)" = 3 ] || fail "default max_attempts"
job_field "$id" correlation_id | grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}' || fail "correlation id not a UUID"
job_field "$id" traceparent | grep -Eqx '00-[0-9a-f]{32}-[0-9a-f]{16}-01' || fail "traceparent not generated"
"$WFQ" jobs show "$id" --json | jq_field "[e['kind'] for e in d['events']]" | grep -q "'enqueued'" || fail "no enqueued event"
pass "rollback leaves no job; commit leaves one with the CLI's defaults and timeline"

opts='{"queue": "q2", "priority": 7, "max_attempts": 5, "delay": "1h", "key": "k-1", "lock_key": "lk", "org": "acme",
       "repo": "widgets", "correlation_id": "corr-1", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
       "tracestate": "vendor=x"}'
id=$(sql -c "SELECT $S.enqueue('full', '{\"a\": 1}', '$opts')")
"$WFQ" jobs show "$id" --json > "$TMP/full.json"
got=$(jq_field "(d['queue'], d['priority'], d['max_attempts'], d['key'], d['lock_key'], d['org'], d['repo'], d['correlation_id'], d['traceparent'], d['state'])" < "$TMP/full.json")
[ "$got" = "('q2', 7, 5, 'k-1', 'lk', 'acme', 'widgets', 'corr-1', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'pending')" ] \
    || fail "options not stored: $got"
# A lock key is a limit key of concurrency 1 (flow control): held for admission, as the CLI's.
[ "$(jq_field "(d['limits'], d['held_by'])" < "$TMP/full.json")" = "(['lk'], 'lk')" ] \
    || fail "a lock key through SQL is not a limit key: $(jq_field "(d['limits'], d['held_by'])" < "$TMP/full.json")"
[ "$("$WFQ" jobs list --state scheduled --type full --json | jq_field 'len(d)')" = 1 ] || fail "delay did not schedule the job"
id2=$(sql -c "SELECT $S.enqueue('timed', '{}', '{\"run_at\": \"2030-01-02T03:04:05.5+01:00\"}')")
cli=$("$WFQ" enqueue timed2 --run-at 2030-01-02T03:04:05.5+01:00)
[ "$(job_field "$id2" run_at)" = "$(job_field "$cli" run_at)" ] || fail "run_at differs from the CLI's: $(job_field "$id2" run_at)"
pass "every option is stored as the CLI stores it"

ids=$(sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"many\", \"payload\": {\"i\": 1}}, {\"type\": \"many\", \"payload\": {\"i\": 2}}, {\"type\": \"many\", \"queue\": \"other\"}]')")
[ "$(echo "$ids" | wc -l)" = 3 ] || fail "enqueue_many returned: $ids"
[ "$(echo "$ids" | sort -n)" = "$ids" ] || fail "enqueue_many ids not in order: $ids"
[ "$(job_field "$(echo "$ids" | head -1)" payload)" = "{'i': 1}" ] || fail "first job is not the first element"
[ "$(job_field "$(echo "$ids" | tail -1)" queue)" = other ] || fail "enqueue_many per-job queue"
pass "enqueue_many: ids in input order"

# ---- the same words as NDJSON for the same bad input, SQLSTATE 22023 -------------------------
check_bad() {  # check_bad NDJSON-OBJECT
    printf '%s\n' "$1" > "$TMP/bad.ndjson"
    expect_exit 65 "$WFQ" enqueue --ndjson "$TMP/bad.ndjson"
    local want=${ERR#wfq: }
    want=${want#line 1: }
    want=${want%%; 0 jobs were committed*}
    sql_error "SELECT $S.enqueue_many('[$(printf '%s' "$1" | sed "s/'/''/g")]')"
    [ "$ERR" = "22023: job 1: $want" ] || fail "for $1: SQL said '$ERR', the CLI '$want'"
}
check_bad '{"type": 5}'
check_bad '{"payload": {}}'
check_bad '{"type": "t", "payload": [1]}'
check_bad '{"type": "t", "queue": 7}'
check_bad '{"type": "t", "queue": ""}'
check_bad "{\"type\": \"t\", \"queue\": \"$(printf 'q%.0s' $(seq 1 201))\"}"
check_bad '{"type": "t", "priority": "high"}'
check_bad '{"type": "t", "priority": 1.5}'
check_bad '{"type": "t", "priority": 99999999}'
check_bad '{"type": "t", "max_attempts": 0}'
check_bad '{"type": "t", "run_at": "yesterday"}'
check_bad '{"type": "t", "run_at": "2030-01-01T00:00:00"}'
check_bad '{"type": "t", "run_at": "2030-01-01T00:00:00+1"}'
check_bad '{"type": "t", "run_at": "2030-01-01T00:00:00.Z"}'
check_bad '{"type": "t", "run_at": "2030-01-01T00:00:00Zoo"}'
check_bad '{"type": "t", "delay": "soon"}'
check_bad '{"type": "t", "delay": "5"}'
check_bad '{"type": "t", "delay": "5y"}'
check_bad '{"type": "t", "delay": ""}'
check_bad '{"type": "t", "delay": 5}'
check_bad '{"type": "t", "key": ""}'
check_bad '{"type": "t", "key": "a\u0001b"}'
check_bad '{"type": "t", "key": "k", "key_mode": "often"}'
check_bad '{"type": "t", "key_mode": "replace"}'
check_bad '{"type": "t", "lock_key": ""}'
check_bad '{"type": "t", "org": "a\tb"}'
check_bad '{"type": "t", "repo": ""}'
check_bad '{"type": "t", "correlation_id": "x\ny"}'
check_bad '{"type": "t", "tracestate": 1}'
check_bad '{"type": "t", "colour": "red"}'
check_bad '{"type": ""}'
check_bad '{"type": "t", "limits": "k1"}'
check_bad '{"type": "t", "limits": ["k1", 2]}'
check_bad '{"type": "t", "limits": ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]}'
check_bad '{"type": "t", "limits": [""]}'
check_bad '{"type": "t", "limits": ["a\u0007b"]}'
check_bad "{\"type\": \"t\", \"limits\": [\"$(printf 'k%.0s' $(seq 1 201))\"]}"
check_bad "{\"type\": \"t\", \"limits\": [\"a$(printf 'é%.0s' $(seq 1 130))\"]}"
check_bad '{"type": "t", "limits": ["ok"], "org": 5}'
sql_error "SELECT $S.enqueue('t', '{}', '{\"priority\": \"high\"}')"
[ "$ERR" = "22023: field 'priority' must be an integer" ] || fail "enqueue's message: $ERR"
sql_error "SELECT $S.enqueue('t', '[]')"
[ "$ERR" = "22023: field 'payload' must be a JSON object" ] || fail "enqueue's payload message: $ERR"
sql_error "SELECT $S.enqueue_many('{}')"
[ "$ERR" = "22023: jobs must be a JSON array" ] || fail "enqueue_many of an object: $ERR"
# Nothing half-done: a bad second job leaves no first one.
sql_error "SELECT $S.enqueue_many('[{\"type\": \"half\"}, {\"type\": \"half\", \"delay\": \"x\"}]')"
contains "$ERR" "job 2: invalid duration"
[ "$("$WFQ" jobs list --type half --json | jq_field 'len(d)')" = 0 ] || fail "a failed enqueue_many left jobs"
sql_error "SELECT $S.enqueue_many('[{\"type\": \"ok\"}, {\"type\": \"t\", \"priority\": \"x\"}, {\"type\": \"t\", \"run_at\": \"x\"}]')"
[ "$ERR" = "22023: job 2: field 'priority' must be an integer" ] || fail "the first bad element is not the one named: $ERR"
sql_error "SELECT $S.enqueue_many('[{\"type\": \"ok\"}, {\"type\": \"t\", \"run_at\": \"x\"}, {\"type\": 5}]')"
contains "$ERR" "22023: job 2: invalid time 'x'"
pass "bad input for every field: SQLSTATE 22023 and the NDJSON message, word for word"

# ---- key modes, the CLI's, and producers of both kinds racing --------------------------------
a=$(sql -c "SELECT $S.enqueue('deb', '{\"v\": 1}', '{\"key\": \"deb\", \"key_mode\": \"replace\", \"delay\": \"1h\"}')")
b=$("$WFQ" enqueue deb '{"v": 2}' --key deb --key-mode replace --delay 1h)
c=$(sql -c "SELECT $S.enqueue('deb', '{\"v\": 3}', '{\"key\": \"deb\", \"key_mode\": \"preserve_run_at\"}')")
[ "$a" = "$b" ] && [ "$b" = "$c" ] || fail "key modes across SQL and the CLI: $a $b $c"
[ "$(job_field "$a" payload)" = "{'v': 3}" ] || fail "last payload did not win"
[ "$("$WFQ" jobs show "$a" --json | jq_field "len([e for e in d['events'] if e['kind'] == 'replaced'])")" = 2 ] || fail "replaced events"
pids=()
for i in 1 2 3 4 5 6; do
    if [ $((i % 2)) = 0 ]; then
        sql -c "SELECT $S.enqueue('race', '{\"n\": $i}', '{\"key\": \"race\", \"key_mode\": \"replace\"}')" > "$TMP/race-$i" &
    else
        "$WFQ" enqueue race "{\"n\": $i}" --key race --key-mode replace > "$TMP/race-$i" 2> /dev/null &
    fi
    pids+=($!)
done
for p in "${pids[@]}"; do expect_wait 0 "$p" "a racing producer"; done
[ "$(cat "$TMP"/race-* | sort -u | wc -l)" = 1 ] || fail "racing SQL and CLI producers got different ids: $(cat "$TMP"/race-*)"
[ "$("$WFQ" jobs list --type race --json | jq_field 'len(d)')" = 1 ] || fail "racing producers made several jobs"
pass "key modes through SQL are the CLI's; 3 psql and 3 wfq producers racing on a key end with one job"

# ---- enqueue_many reads a simple element as wfq_parse_job does ---------------------------------
# The first element takes the set-based reading; the same with "tracestate": null goes through
# wfq_parse_job. Both are stored alike.
row='"payload": {"a": 1}, "queue": "q3", "priority": -5, "max_attempts": 7, "delay": "90s", "key_mode": "preserve_run_at",
     "lock_key": "fl", "org": "o", "repo": "r", "correlation_id": "c-1"'
ids=$(sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"fast\", \"key\": \"fast-1\", $row},
                                               {\"type\": \"slow\", \"key\": \"slow-1\", \"tracestate\": null, $row}]')")
stored() {
    psql -X -Atq -c "SELECT queue, payload, priority, max_attempts, run_at - created_at, lock_key, org, repo, correlation_id,
                            limit_keys, held, held_by, state, attempt FROM $S.jobs WHERE id = $1"
}
[ "$(stored "$(echo "$ids" | head -1)")" = "$(stored "$(echo "$ids" | tail -1)")" ] \
    || fail "the set-based reading stored $(stored "$(echo "$ids" | head -1)"), wfq_parse_job $(stored "$(echo "$ids" | tail -1)")"
[ "$(stored "$(echo "$ids" | head -1)")" = 'q3|{"a": 1}|-5|7|90000|fl|o|r|c-1|["fl"]|1|fl|pending|0' ] \
    || fail "enqueue_many stored $(stored "$(echo "$ids" | head -1)")"
job_field "$(echo "$ids" | head -1)" traceparent | grep -Eqx '00-[0-9a-f]{32}-[0-9a-f]{16}-01' || fail "no new trace"
pass "enqueue_many stores a simple element as wfq_parse_job reads it"

# ---- limits: the CLI's columns, held and admitted by the same rules ----------------------------
cli=$("$WFQ" enqueue lim --limit 'b:2' --limit 'a:1' --limit 'b:2' --lock-key 'Z-lock')
one=$(sql -c "SELECT $S.enqueue('lim', '{}', '{\"limits\": [\"b:2\", \"a:1\", \"b:2\"], \"lock_key\": \"Z-lock\"}')")
many=$(sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"lim\", \"limits\": [\"b:2\", \"a:1\", \"b:2\"], \"lock_key\": \"Z-lock\"}]')")
cols() { psql -X -Atq -c "SELECT limit_keys, held, held_by FROM $S.jobs WHERE id = $1"; }
[ "$(cols "$cli")" = '["Z-lock","a:1","b:2"]|1|Z-lock' ] || fail "the CLI stored $(cols "$cli")"
[ "$(cols "$one")" = "$(cols "$cli")" ] || fail "enqueue stored $(cols "$one"), the CLI $(cols "$cli")"
[ "$(cols "$many")" = "$(cols "$cli")" ] || fail "enqueue_many stored $(cols "$many"), the CLI $(cols "$cli")"
[ "$(job_field "$one" limits)" = "$(job_field "$cli" limits)" ] || fail "limits differ: $(job_field "$one" limits)"
"$WFQ" jobs cancel "$cli" "$one" "$many" > /dev/null

"$WFQ" limits set 'sqlcap:*' --concurrency 0
cli=$("$WFQ" enqueue capped --limit sqlcap:k)
one=$(sql -c "SELECT $S.enqueue('capped', '{}', '{\"limits\": [\"sqlcap:k\"]}')")
many=$(sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"capped\", \"limits\": [\"sqlcap:k\"]}]')")
cat > "$TMP/capped.sh" <<'SH'
#!/bin/sh
echo "$(date +%s%N) start $WFQ_JOB_ID" >> "$LOG"
sleep 0.2
echo "$(date +%s%N) end $WFQ_JOB_ID" >> "$LOG"
SH
chmod +x "$TMP/capped.sh"
export LOG="$TMP/capped.log"
"$WFQ" process --type capped --concurrency 3 --poll 100ms --exec "$TMP/capped.sh" 2> "$TMP/capped-worker.log" &
capw=$!
all_held() {
    for id in "$cli" "$one" "$many"; do
        "$WFQ" why "$id" --json | jq_field "d['reason']" | grep -qx concurrency_limited || return 1
    done
}
wait_for 20 all_held
for id in "$one" "$many"; do
    contains "$("$WFQ" why "$id")" "sqlcap:*"
    contains "$("$WFQ" why "$id")" "sqlcap:k"
done
[ "$(job_field "$one" state)" = pending ] && [ "$(job_field "$many" state)" = pending ] || fail "a job ran under a cap of 0"
[ "$("$WFQ" limits list --json | jq_field "[r['held'] for r in d if r['pattern'] == 'sqlcap:*'][0]")" = 3 ] \
    || fail "limits list does not count the SQL jobs as held back"
"$WFQ" limits set 'sqlcap:*' --concurrency 1
capped_done() { [ "$("$WFQ" jobs list --type capped --state completed --json | jq_field 'len(d)')" = 3 ]; }
wait_for 30 capped_done
kill -TERM "$capw"
expect_wait 0 "$capw" "the capped worker" "$TMP/capped-worker.log"
python3 - "$LOG" <<'PY' || fail "jobs of one key overlapped under a cap of 1: $(cat "$LOG")"
import sys
running = peak = 0
for line in sorted(open(sys.argv[1]), key=lambda l: int(l.split()[0])):
    running += 1 if line.split()[1] == 'start' else -1
    peak = max(peak, running)
sys.exit(0 if peak == 1 else 1)
PY
pass "limits through SQL: the CLI's limit columns; held back (why, limits list) and admitted one at a time under a cap of 1, as the CLI's"

# ---- enqueue_many with keys: the store's key semantics, set by set -----------------------------
kept=$("$WFQ" enqueue km '{"v": 0}' --key km-keep --delay 1h)
pend=$("$WFQ" enqueue km '{"v": 0}' --key km-replace --delay 1h)
thr=$("$WFQ" enqueue km '{"v": 0}' --key km-throttle --delay 1h)
thr_run_at=$(job_field "$thr" run_at)
ids=$(sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"km\", \"payload\": {\"v\": 1}, \"key\": \"km-keep\"},
    {\"type\": \"km\", \"payload\": {\"v\": 1}, \"key\": \"km-replace\", \"key_mode\": \"replace\"},
    {\"type\": \"km\", \"payload\": {\"v\": 1}, \"key\": \"km-throttle\", \"key_mode\": \"preserve-run-at\", \"delay\": \"2h\"},
    {\"type\": \"km\", \"payload\": {\"v\": 1}, \"key\": \"km-new\", \"key_mode\": \"replace\"},
    {\"type\": \"km\", \"payload\": {\"v\": 1}}]')")
[ "$(echo "$ids" | sed -n 1p)" = "$kept" ] || fail "keep in enqueue_many: $ids"
[ "$(echo "$ids" | sed -n 2p)" = "$pend" ] || fail "replace in enqueue_many: $ids"
[ "$(echo "$ids" | sed -n 3p)" = "$thr" ] || fail "preserve-run-at in enqueue_many: $ids"
[ "$(echo "$ids" | sed -n 4p)" -gt "$thr" ] && [ "$(echo "$ids" | sed -n 5p)" -gt "$(echo "$ids" | sed -n 4p)" ] \
    || fail "new jobs of enqueue_many not in input order: $ids"
[ "$(job_field "$kept" payload)" = "{'v': 0}" ] || fail "keep changed the payload"
[ "$(job_field "$pend" payload)" = "{'v': 1}" ] && [ "$(job_field "$thr" payload)" = "{'v': 1}" ] || fail "payloads not replaced"
[ "$(job_field "$pend" state)" = pending ] && [ "$(job_field "$thr" run_at)" = "$thr_run_at" ] || fail "preserve-run-at moved run_at"
"$WFQ" jobs show "$pend" --json | jq_field "[e['kind'] for e in d['events']]" | grep -q "'replaced'" || fail "no replaced event"
# A key twice in one batch: each element sees the one before (job by job), as NDJSON lines do.
ids=$(sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"km\", \"payload\": {\"v\": 1}, \"key\": \"km-twice\", \"key_mode\": \"replace\"},
    {\"type\": \"km\", \"payload\": {\"v\": 2}, \"key\": \"km-twice\", \"key_mode\": \"replace\"}]')")
[ "$(echo "$ids" | sort -u | wc -l)" = 1 ] || fail "a key twice in a batch made two jobs: $ids"
[ "$(job_field "$(echo "$ids" | head -1)" payload)" = "{'v': 2}" ] || fail "the second element's payload did not win"
# A started job with the key is never changed: one new job runs after it (superseded).
running=$("$WFQ" enqueue kmrun '{"v": 0}' --key km-run)
"$WFQ" process --type kmrun --max-jobs 1 --poll 100ms --exec sh -c 'while [ ! -e "$0" ]; do sleep 0.05; done' "$TMP/km-go" \
    2> "$TMP/kmrun.log" &
kmw=$!
km_running() { [ "$(job_field "$running" state)" = running ]; }
wait_for 20 km_running
ids=$(sql -c "SELECT * FROM $S.enqueue_many('[{\"type\": \"kmrun\", \"payload\": {\"v\": 1}, \"key\": \"km-run\", \"key_mode\": \"replace\"}]')")
[ "$ids" != "$running" ] || fail "enqueue_many replaced the payload of a running job"
[ "$(job_field "$running" payload)" = "{'v': 0}" ] || fail "the running job's payload changed"
"$WFQ" jobs show "$running" --json | jq_field "[e['kind'] for e in d['events']]" | grep -q "'superseded'" || fail "no superseded event"
touch "$TMP/km-go"
expect_wait 0 "$kmw" "the kmrun worker" "$TMP/kmrun.log"
pass "enqueue_many with keys: keep, replace, preserve-run-at, new keys in order, a key twice, a running job superseded"

# Producers of several keys racing: SQL batches and CLI batches, keys in different orders, never
# deadlock and end with one job per key.
pids=()
for i in 1 2 3 4 5 6; do
    if [ $((i % 2)) = 0 ]; then
        order='"rk-b", "rk-a", "rk-C"'; [ $((i % 4)) = 0 ] && order='"rk-C", "rk-a", "rk-b"'
        sql -c "SELECT * FROM $S.enqueue_many((SELECT jsonb_agg(jsonb_build_object('type', 'rk', 'payload', jsonb_build_object('n', $i),
                 'key', k, 'key_mode', 'replace')) FROM jsonb_array_elements_text('[$order]') AS k))" > "$TMP/rk-$i" &
    else
        for k in rk-a rk-C rk-b; do echo "{\"type\": \"rk\", \"payload\": {\"n\": $i}, \"key\": \"$k\", \"key_mode\": \"replace\"}"; done \
            > "$TMP/rk-$i.ndjson"
        "$WFQ" enqueue --ndjson "$TMP/rk-$i.ndjson" > "$TMP/rk-$i" 2> /dev/null &
    fi
    pids+=($!)
done
for p in "${pids[@]}"; do expect_wait 0 "$p" "a racing batch producer"; done
[ "$(cat "$TMP"/rk-[0-9] | sort -u | wc -l)" = 3 ] || fail "racing batches got other than 3 ids: $(cat "$TMP"/rk-[0-9])"
[ "$("$WFQ" jobs list --type rk --json | jq_field 'len(d)')" = 3 ] || fail "racing batches made other than 3 jobs"
pass "3 enqueue_many and 3 wfq --ndjson batches racing on 3 keys in different orders: no deadlock, one job per key"

# ---- cancel and signal -----------------------------------------------------------------------
id=$("$WFQ" enqueue doomed)
[ "$(sql -c "SELECT $S.cancel($id)")" = t ] || fail "cancel of a pending job"
[ "$(sql -c "SELECT $S.cancel($id)")" = f ] || fail "cancel of a cancelled job"
[ "$(job_field "$id" state)" = cancelled ] || fail "not cancelled"
[ "$(sql -c "SELECT $S.cancel(999999999)")" = f ] || fail "cancel of no job"
[ "$(sql -c "SELECT $S.signal('deployed', 'svc-1', '{\"ok\": true}')")" = 0 ] || fail "signal with no waiting job"
"$WFQ" signal list --json | jq_field "[(s['event'], s['key'], s['data']) for s in d]" | grep -q "('deployed', 'svc-1', {'ok': True})" \
    || fail "signal not stored: $("$WFQ" signal list --json)"
sql_error "SELECT $S.signal('', 'k')"
[ "$ERR" = "22023: event must not be empty" ] || fail "signal's message: $ERR"
pass "cancel(id) and signal(event, key, data)"

# ---- an idle worker starts a committed job at once, not at its next poll ---------------------
"$WFQ" process --type wake --poll 60s --max-jobs 1 --exec sh -c 'cat > /dev/null' 2> "$TMP/worker.log" &
worker=$!
wait_for 20 sh -c "\"$WFQ\" workers list --json | grep -q '\"pid\": *$worker'"
sql -c "BEGIN" -c "SELECT $S.enqueue('wake', '{}')" -c "COMMIT" > /dev/null
start=$(date +%s)
expect_wait 0 "$worker" "the idle worker" "$TMP/worker.log"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "the worker waited for its poll"
pass "an idle worker (60s poll) ran the job committed through SQL at once"

# ---- a producer-only role --------------------------------------------------------------------
role="wfq_producer_$$"
cleanup_role() { psql -X -qc "DROP OWNED BY $role; DROP ROLE IF EXISTS $role" > /dev/null 2>&1 || true; cleanup; }
trap cleanup_role EXIT
sql -c "CREATE ROLE $role NOLOGIN"
sql_error "SET ROLE $role; SELECT $S.enqueue('t')"
contains "$ERR" "42501: permission denied for schema"
sql -c "GRANT USAGE ON SCHEMA $S TO $role"
sql_error "SET ROLE $role; SELECT $S.enqueue('t')"
contains "$ERR" "42501: permission denied for function enqueue"
sql -c "GRANT EXECUTE ON FUNCTION $S.enqueue(text, jsonb, jsonb), $S.enqueue_many(jsonb), $S.signal(text, text, jsonb),
        $S.cancel(bigint), $S.api_version() TO $role"
id=$(sql -c "SET ROLE $role" -c "SELECT $S.enqueue('restricted', '{\"by\": \"role\"}')")
[ "$(job_field "$id" type)" = restricted ] || fail "the producer role's job"
sql_error "SET ROLE $role; INSERT INTO $S.jobs (type) VALUES ('x')"
contains "$ERR" "42501: permission denied for table jobs"
pass "a role without the GRANTs gets a permission error; with them it enqueues and can do nothing else"
