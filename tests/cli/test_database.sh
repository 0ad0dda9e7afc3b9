# Migrations under concurrency, and a worker that survives its database connections being killed.
# wfq-test: postgresql-only
. "$(dirname "$0")/lib.sh"
[ "$WFQ_TEST_BACKEND" = postgresql ] || skip "PostgreSQL-only behaviour (SQLite migrates itself)"

export WFQ_SCHEMA="fresh_$$"
migrations=()
for i in 1 2 3; do
    "$WFQ" migrate 2> "$TMP/m$i" &
    migrations+=($!)
done
for i in 0 1 2; do expect_wait 0 "${migrations[$i]}" "concurrent migrate $((i + 1))" "$TMP/m$((i + 1))"; done
applied=$(cat "$TMP/m1" "$TMP/m2" "$TMP/m3" | grep -cw "applied migration 1" || true)
[ "$applied" = 1 ] || fail "migration 1 applied $applied times"
"$WFQ" migrate --status --json | jq_field "all(m['applied'] for m in d)" | grep -x True > /dev/null || fail "status after concurrent migrate"
pass "three concurrent migrate runs: each migration applied exactly once"

"$WFQ" enqueue before '{}' > /dev/null
# The worker's sessions carry an application name, so only they are terminated below (other
# tests share this server).
PGAPPNAME="wfq-victim-$$" "$WFQ" process --poll 200ms --exec sh -c 'cat > /dev/null; echo "{\"ok\": true}"' 2> "$TMP/worker.log" &
worker=$!
wait_for 20 sh -c "[ \"\$('$WFQ' jobs list --state completed --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1 ]"
# Kill the worker's sessions: its store, its LISTEN connection and its config watcher.
killed=$(psql -Atqc "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'wfq-victim-$$'")
[ "$killed" -ge 2 ] || fail "terminated $killed of the worker's sessions"
for i in 1 2 3; do "$WFQ" enqueue after '{}' > /dev/null; done
completed_4() { [ "$("$WFQ" jobs list --state completed --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 4 ]; }
for i in $(seq 1 300); do completed_4 && break; sleep 0.1; done
completed_4 || { tail -20 "$TMP/worker.log"; "$WFQ" jobs list; fail "the worker did not recover from its terminated sessions"; }
kill -TERM "$worker"
expect_wait 0 "$worker" "the worker after SIGTERM" "$TMP/worker.log"
pass "a worker whose connections are terminated reconnects and keeps processing"
