# Behind Debian's PgBouncer in transaction pooling mode (WFQ_POOLER=transaction): no session
# state is relied on (no LISTEN, no prepared statements, the schema set per transaction), jobs,
# workers, lease locks, config invalidation, rescue and the jobs commands work, and --advisory is
# refused with exit 78 instead of protecting nothing.
# wfq-test: postgresql-only
. "$(dirname "$0")/lib.sh"
command -v pgbouncer > /dev/null || { echo "SKIP: pgbouncer is not installed (scripts/install-deps.sh)"; exit 77; }

# A free local port, and a PgBouncer on it in front of the test cluster.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chmod 755 "$TMP"
cat > "$TMP/users.txt" <<USERS
"$PGUSER" "$PGPASSWORD"
USERS
cat > "$TMP/pgbouncer.ini" <<INI
[databases]
* = host=${PGHOST:-localhost} port=$PGPORT user=$PGUSER password=$PGPASSWORD
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $TMP/users.txt
pool_mode = transaction
admin_users = $PGUSER
default_pool_size = 4
max_client_conn = 200
logfile = $TMP/bouncer/pgbouncer.log
pidfile = $TMP/bouncer/pgbouncer.pid
INI
chmod 644 "$TMP/users.txt" "$TMP/pgbouncer.ini"
mkdir "$TMP/bouncer"
# PgBouncer refuses to run as root; -u drops to the postgres user, who writes its log and pid.
as_user=()
if [ "$(id -u)" = 0 ]; then as_user=(-u postgres); chown postgres "$TMP/bouncer"; fi
pgbouncer "${as_user[@]}" "$TMP/pgbouncer.ini" > "$TMP/pgbouncer.out" 2>&1 &
bouncer=$!
wait_for 20 psql -h 127.0.0.1 -p "$port" -U "$PGUSER" -d "$PGDATABASE" -Atqc 'select 1'
export WFQ_DB="postgresql://$PGUSER@127.0.0.1:$port/$PGDATABASE"
export WFQ_POOLER=transaction
[ "$(psql -h 127.0.0.1 -p "$port" -U "$PGUSER" -d pgbouncer -Atc 'SHOW CONFIG' 2>/dev/null | grep '^pool_mode|' | cut -d'|' -f2)" = transaction ] \
    || fail "PgBouncer is not in transaction pooling mode"

# ---- jobs through the pooler: enqueue, two workers, every job exactly once ------------------
N=500
python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'bounce', 'payload': {'i': i}}))" | "$WFQ" enqueue --ndjson - > /dev/null
id=$("$WFQ" enqueue single '{"x": 1}' --key one)
[ "$("$WFQ" enqueue single '{"x": 1}' --key one)" = "$id" ] || fail "idempotency key through the pooler"
for w in 1 2; do
    "$WFQ" process --type bounce --until-empty --concurrency 4 --poll 100ms \
        --exec sh -c 'cat >/dev/null; echo "$WFQ_JOB_ID" >> '"$TMP/runs" 2> "$TMP/worker$w.log" &
    workers[$w]=$!
done
for w in 1 2; do wait "${workers[$w]}" || fail "worker $w exited $?: $(tail -3 "$TMP/worker$w.log")"; done
[ "$(wc -l < "$TMP/runs")" = "$N" ] || fail "$(wc -l < "$TMP/runs") handler runs for $N jobs"
[ "$(sort -u "$TMP/runs" | wc -l)" = "$N" ] || fail "a job ran twice"
[ "$("$WFQ" jobs list --type bounce --state completed --limit 1000 --json | jq_field 'len(d)')" = "$N" ] || fail "not all completed"
pass "$N jobs by 2 workers through PgBouncer (transaction pooling): each ran exactly once"

# An idle worker is woken by an enqueue without LISTEN (it polls the id sequence).
"$WFQ" process --type late --max-jobs 1 --poll 5s --exec sh -c 'cat >/dev/null' 2> "$TMP/late.log" &
late=$!
wait_for 20 sh -c "\"$WFQ\" workers list --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin) else 1)'"
start=$(date +%s%N)
"$WFQ" enqueue late '{}' > /dev/null
wait "$late" || fail "the idle worker exited $?"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -lt 4000 ] || fail "an idle worker behind the pooler took ${elapsed_ms} ms to see an enqueue (poll 5s)"
pass "an idle worker behind the pooler sees an enqueue in ${elapsed_ms} ms without LISTEN"

# ---- the jobs commands ---------------------------------------------------------------------
expect_exit 0 "$WFQ" jobs show "$id" --json
expect_exit 0 "$WFQ" jobs cancel "$id"
expect_exit 0 "$WFQ" jobs retry "$id"
[ "$(job_field "$id" state)" = pending ] || fail "retry through the pooler"
expect_exit 0 "$WFQ" jobs prune --older-than 0s
expect_exit 0 "$WFQ" metrics
expect_exit 0 "$WFQ" migrate --status
"$WFQ" doctor --json > "$TMP/doctor.json" || true
jq_field "[f['message'] for f in d if f['check'] == 'session_jit']" < "$TMP/doctor.json" | grep -qx "\['session_jit = 0'\]" ||
    fail "doctor's session_jit through the pooler: $(cat "$TMP/doctor.json")"
pass "jobs show, cancel, retry, prune, metrics and migrate --status through the pooler; JIT off per transaction (SET LOCAL)"

# ---- lease locks work; --advisory is refused ---------------------------------------------------
expect_exit 0 "$WFQ" lock acquire bounce-lock --ttl 30s
token=$OUT
expect_exit 3 "$WFQ" lock acquire bounce-lock --ttl 30s
expect_exit 0 "$WFQ" lock renew bounce-lock --token "$token"
expect_exit 0 "$WFQ" lock release bounce-lock --token "$token"
expect_exit 0 "$WFQ" lock run bounce-run -- sh -c 'test -n "$WFQ_LOCK_TOKEN"'
expect_exit 78 "$WFQ" lock run --advisory bounce-adv -- true
contains "$ERR" "transaction-pooling PgBouncer"
pass "lease locks work through the pooler; lock run --advisory exits 78 saying why"

# ---- config invalidation without NOTIFY ------------------------------------------------------
expect_exit 0 "$WFQ" config set org:acme '{"model": "small"}'
"$WFQ" process --type cfg --concurrency 1 --poll 100ms --exec sh -c 'cat "$WFQ_CONFIG_FILE" >> '"$TMP/configs"'; echo >> '"$TMP/configs" \
    2> "$TMP/cfg.log" &
cfg_worker=$!
"$WFQ" enqueue cfg '{}' --org acme > /dev/null
wait_for 20 grep -q small "$TMP/configs"
expect_exit 0 "$WFQ" config set org:acme '{"model": "large"}'
# The worker's cache must drop the old document: enqueue until a job sees the new one.
see_large() { "$WFQ" enqueue cfg '{}' --org acme > /dev/null; grep -q large "$TMP/configs"; }
wait_for 20 see_large
kill -TERM "$cfg_worker"
wait "$cfg_worker" || fail "config worker exited $?"
pass "a config change reaches a running worker through the pooler (the change log is polled)"

# ---- rescue ------------------------------------------------------------------------------------
victim=$("$WFQ" enqueue victim '{}')
"$WFQ" process --type victim --lease 1s --rescue-interval 0 --exec sh -c 'exec sleep 60' 2>/dev/null &
vw=$!
wait_for 20 sh -c "[ \"\$(\"$WFQ\" jobs show $victim --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = running ]"
kill -KILL "$vw"
wait "$vw" && fail "SIGKILLed worker exited 0" || [ $? = 137 ] || fail "unexpected status"
wait_for 20 sh -c "\"$WFQ\" rescue > /dev/null 2>&1; [ \"\$(\"$WFQ\" jobs show $victim --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = pending ]"
pass "wfq rescue through the pooler returns an expired job to pending"

# ---- the SQL API through the pooler: the caller's transaction decides, workers poll ----------
bq() { psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$PGUSER" -d "$PGDATABASE" -Atq "$@"; }
bq -c "BEGIN" -c "SELECT $WFQ_SCHEMA.enqueue('pooled_sql', '{\"n\": 1}')" -c "ROLLBACK" > /dev/null
id=$(bq -c "BEGIN" -c "SELECT $WFQ_SCHEMA.enqueue('pooled_sql', '{\"n\": 2}', '{\"key\": \"ps\", \"key_mode\": \"replace\"}')" -c "COMMIT")
[ "$(bq -c "SELECT count(*) FROM $WFQ_SCHEMA.enqueue_many('[{\"type\": \"pooled_sql\", \"key\": \"ps\", \"key_mode\": \"replace\", \"payload\": {\"n\": 3}}]') AS i WHERE i = $id")" = 1 ] \
    || fail "enqueue_many through the pooler did not replace the keyed job"
timeout 60 "$WFQ" process --type pooled_sql --until-empty --poll 100ms --exec sh -c 'cat >> '"$TMP/sql_runs" 2> "$TMP/sql_worker.log" \
    || fail "worker: $(tail -3 "$TMP/sql_worker.log")"
[ "$(cat "$TMP/sql_runs")" = '{"n": 3}' ] || fail "through the pooler, the jobs run were: $(cat "$TMP/sql_runs")"
pass "SQL API through PgBouncer: a rolled-back enqueue leaves nothing, a committed one runs with its last payload"

grep -q "prepared statement .* does not exist\|unsupported" "$TMP"/worker*.log "$TMP"/cfg.log && fail "session state leaked through the pooler"
kill -INT "$bouncer"  # a safe shutdown (SIGTERM is its immediate one, which exits 1)
wait "$bouncer" || fail "pgbouncer exited $? on SIGINT: $(tail -3 "$TMP/bouncer/pgbouncer.log")"
pass "no session state was needed, and PgBouncer stopped cleanly"

