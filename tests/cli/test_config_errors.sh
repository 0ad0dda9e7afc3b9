# Configuration errors exit 78 at once (no retries), so that systemd's RestartPreventExitStatus=78
# stops restarting a worker that can never start: a wrong password, a database or role that does
# not exist, an unwritable SQLite path. A server that is down stays 69, after the retries.
# `wfq doctor` reports an unreachable database as a finding (text and --json), exit 69.
# Retries are counted, not timed: each connection try logs "connecting to the database" at debug.
. "$(dirname "$0")/lib.sh"

export WFQ_DB_RETRIES=3
tries() { grep -c "connecting to the database" "$TMP/err" || true; }
# A port where nothing listens: one the kernel just gave out and that was closed again.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# ---- wfq doctor with the database down: an `unreachable` finding, exit 69 --------------------
down="postgresql://127.0.0.1:$(free_port)/wfq"
expect_exit 69 "$WFQ" --db "$down" doctor --json
echo "$OUT" | jq_field "[f for f in d if f['check'] == 'unreachable' and f['severity'] == 'error']" > "$TMP/found" ||
    fail "doctor --json did not print a JSON array of findings: $OUT"
grep -q "'check': 'unreachable'" "$TMP/found" || fail "doctor --json has no unreachable error finding: $OUT"
echo "$OUT" | jq_field "all(set(f) >= {'check', 'severity', 'message', 'fix'} for f in d)" | grep -qx True ||
    fail "a finding lacks check, severity, message or fix: $OUT"
contains "$OUT" "127.0.0.1"
expect_exit 69 "$WFQ" --db "$down" doctor
contains "$OUT" "unreachable"
contains "$OUT" "error"
pass "doctor with the database down prints an unreachable finding (text and --json) and exits 69"

# A server that is down may come back: 69, after every try.
expect_exit 69 "$WFQ" --log-level debug --db "$down" jobs list
[ "$(tries)" = 3 ] || fail "a server that is down was tried $(tries) times, want 3 (WFQ_DB_RETRIES): $ERR"
pass "a server that is down exits 69 after $WFQ_DB_RETRIES tries"

if [ "$WFQ_TEST_BACKEND" = sqlite ]; then
    # ---- SQLite: a path that cannot be written is 78 at once --------------------------------
    # Root (as in CI) may write anywhere, so the paths are made unusable by their shape: a
    # regular file where a directory should be, a directory where the file should be.
    : > "$TMP/file"
    mkdir "$TMP/dir"
    for url in "sqlite:$TMP/file/wfq.db" "sqlite:$TMP/file/sub/wfq.db" "sqlite:$TMP/dir"; do
        expect_exit 78 "$WFQ" --db "$url" jobs list
        contains "$ERR" "${url#sqlite:}"
        contains "$ERR" "configuration error"
    done
    contains "$ERR" "Is a directory"
    if [ "$(id -u)" != 0 ]; then
        mkdir "$TMP/locked" && chmod 0555 "$TMP/locked"
        expect_exit 78 "$WFQ" --db "sqlite:$TMP/locked/wfq.db" jobs list
        contains "$ERR" "Permission denied"
        : > "$TMP/ro.db" && chmod 0444 "$TMP/ro.db"
        expect_exit 78 "$WFQ" --db "sqlite:$TMP/ro.db" jobs list
        contains "$ERR" "Permission denied"
        pass "SQLite: a read-only directory or file exits 78"
    else
        echo "note: running as root, which may write anywhere: the permission cases are not checked"
    fi
    expect_exit 78 "$WFQ" --db "sqlite:$TMP/file/wfq.db" doctor --json
    echo "$OUT" | jq_field "[f['check'] for f in d if f['severity'] == 'error']" | grep -q "configuration" ||
        fail "doctor --json on an unwritable SQLite path has no configuration finding: $OUT"
    pass "SQLite: an unwritable path (file as directory, directory as file) exits 78 at once, doctor too"
    exit 0
fi

# ---- PostgreSQL ----------------------------------------------------------------------------
# A database that does not exist: 78 on the first try.
expect_exit 78 env PGDATABASE="wfq_no_such_db_$$" "$WFQ" --log-level debug --db postgresql:// jobs list
[ "$(tries)" = 1 ] || fail "a missing database was tried $(tries) times, want 1: $ERR"
contains "$ERR" "does not exist"
contains "$ERR" "wfq_no_such_db_$$"
pass "a database that does not exist exits 78 without retries"

# A role that does not exist (trust: 'role does not exist'; password methods: 'authentication failed').
expect_exit 78 env PGUSER="wfq_no_such_role_$$" "$WFQ" --log-level debug --db postgresql:// jobs list
[ "$(tries)" = 1 ] || fail "a missing role was tried $(tries) times, want 1: $ERR"
pass "a role that does not exist exits 78 without retries"

# A role with a password, for the wrong-password case and a worker whose password changes.
role="wfq_cfg_$$"
pw="right-$$-pw"
tcp_host=127.0.0.1
[ "${PGHOST:-}" = "::1" ] && tcp_host="[::1]"
dsn() { echo "postgresql://$role:$1@$tcp_host:${PGPORT:-5432}/${PGDATABASE:-postgres}"; }
worker=""
drop_role() {
    [ -z "$worker" ] || { kill -KILL "$worker" 2>/dev/null; wait "$worker" 2>/dev/null; } || true
    psql -Atqc "select pg_terminate_backend(pid) from pg_stat_activity where usename = '$role'" >/dev/null 2>&1 || true
    psql -Atqc "DROP OWNED BY $role; DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
    cleanup
}
trap drop_role EXIT
psql -Atqc "CREATE ROLE $role LOGIN PASSWORD '$pw'; GRANT CREATE ON DATABASE \"${PGDATABASE:-postgres}\" TO $role" >/dev/null
PGPASSWORD= PGPASSFILE=/dev/null psql "$(dsn "$pw")" -Atqc 'select 1' >/dev/null 2>&1 ||
    skip "cannot connect to PostgreSQL over TCP ($tcp_host:${PGPORT:-5432}) with a password"
if PGPASSWORD= PGPASSFILE=/dev/null psql "$(dsn "wrong-$$-pw")" -Atqc 'select 1' >/dev/null 2>&1; then
    skip "this cluster trusts TCP connections (pg_hba.conf 'trust'), so a wrong password is accepted: the" \
        "wrong-password and password-change cases cannot run here (the cases above passed)"
fi

# A worker that connected once and then meets a refusal on reconnecting (a password rotated
# before the new one is deployed) rides it out like an outage, and goes on when it passes.
export WFQ_SCHEMA="cfg_$$"
PGPASSWORD= "$WFQ" --db "$(dsn "$pw")" migrate 2>/dev/null
"$WFQ" --db "$(dsn "$pw")" enqueue first '{}' > /dev/null
completed() { [ "$("$WFQ" --db "$(dsn "$pw")" jobs list --state completed --json | jq_field 'len(d)')" = "$1" ]; }
PGPASSWORD= PGAPPNAME="wfq-cfg-$$" "$WFQ" --log-level debug --db "$(dsn "$pw")" process --poll 200ms --max-outage 5m \
    --exec sh -c 'cat > /dev/null; echo "{\"ok\": true}"' 2> "$TMP/worker.log" &
worker=$!
wait_for 20 completed 1
psql -Atqc "ALTER ROLE $role PASSWORD 'rotated-$$'" >/dev/null
killed=$(psql -Atqc "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'wfq-cfg-$$'")
[ "$killed" -ge 1 ] || fail "terminated $killed of the worker's sessions"
wait_for 20 grep -q "reconnect refused; treated as an outage" "$TMP/worker.log"
kill -0 "$worker" 2>/dev/null || { tail -20 "$TMP/worker.log" >&2; fail "the worker ended on a refused reconnect"; }
psql -Atqc "ALTER ROLE $role PASSWORD '$pw'" >/dev/null
"$WFQ" --db "$(dsn "$pw")" enqueue second '{}' > /dev/null
wait_for 30 completed 2
kill -TERM "$worker"
expect_wait 0 "$worker" "the worker after SIGTERM" "$TMP/worker.log"
worker=""
pass "a worker whose reconnect is refused (password changed) rides it out as an outage and goes on"

# A wrong password: 78 on the first try, the password never shown.
expect_exit 78 env PGPASSWORD= "$WFQ" --log-level debug --db "$(dsn "wrong-$$-pw")" jobs list
[ "$(tries)" = 1 ] || fail "a wrong password was tried $(tries) times, want 1: $ERR"
contains "$ERR" "authentication failed"
case "$ERR$OUT" in *"wrong-$$-pw"*) fail "the password was printed: $ERR" ;; esac
contains "$ERR" "$role:***@"
pass "a wrong password exits 78 without retries, and the message names the redacted DSN"
