# Shared helpers for the CLI tests. Each test runs against $WFQ_TEST_BACKEND (sqlite or
# postgresql) with a private database: a temporary SQLite file, or its own PostgreSQL schema.
# A test that cannot run here exits 77 (skip), which CTest reports as skipped, never as passed.
set -euo pipefail
skip() { echo "SKIP: $*"; exit 77; }
: "${WFQ:?path to the wfq binary}"
: "${WFQ_TEST_BACKEND:=sqlite}"
export WFQ_DB_RETRIES=${WFQ_DB_RETRIES:-2}
export NO_COLOR=1
# Bounds on time and memory are the contract's on a normal build. Under a sanitizer everything
# runs about 3x slower and bigger, so the asan test preset sets WFQ_TEST_SLOW=3 and tests scale
# their bounds by it: bound_ms 1000 (a latency), bound_kb 200000 (a peak RSS).
WFQ_TEST_SLOW=${WFQ_TEST_SLOW:-1}
bound_ms() { echo $(( $1 * WFQ_TEST_SLOW )); }
bound_kb() { echo $(( $1 * WFQ_TEST_SLOW )); }
TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/wfq-${TEST_NAME}-${WFQ_TEST_BACKEND}-XXXXXX")
cleanup() {
    local pids
    pids=$(jobs -p || true)
    [ -n "$pids" ] && kill $pids 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    if ! psql -Atqc 'select 1' >/dev/null 2>&1; then
        if [ -n "${WFQ_REQUIRE_POSTGRES:-}" ]; then echo "FAIL: WFQ_REQUIRE_POSTGRES is set but PostgreSQL is not reachable" >&2; exit 1; fi
        skip "no PostgreSQL server (run under pg_virtualenv, or set WFQ_REQUIRE_POSTGRES=1 to make this a failure)"
    fi
    export WFQ_DB="postgresql://"
    export WFQ_SCHEMA="cli_${TEST_NAME}_$$"
    "$WFQ" migrate 2>/dev/null
else
    export WFQ_DB="sqlite:$TMP/wfq.db"
    unset WFQ_SCHEMA || true
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# expect_exit CODE CMD...: runs CMD, fails unless it exits with CODE; output in $OUT / $ERR.
expect_exit() {
    local want=$1; shift
    set +e
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    set -e
    OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
    [ "$got" = "$want" ] || fail "expected exit $want, got $got from: $* ; stdout: $OUT ; stderr: $ERR"
}

# expect_wait CODE PID [WHAT [LOG]]: waits for the background process PID; fails unless it
# exited with CODE (137 after SIGKILL), showing the end of LOG when given.
expect_wait() {
    local want=$1 pid=$2 what=${3:-"background process $2"} log=${4:-} got=0
    wait "$pid" 2> /dev/null || got=$?
    if [ "$got" != "$want" ]; then
        [ -z "$log" ] || tail -20 "$log" >&2
        fail "$what exited $got, want $want"
    fi
}

contains() { case "$1" in *"$2"*) ;; *) fail "expected '$2' in: $1" ;; esac; }

# wait_for TIMEOUT_S CMD...: polls CMD (every 50ms) until it succeeds; fails at the deadline.
wait_for() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for: $*"
        sleep 0.05
    done
}

# wait_rescuable ID: waits until a rescuer may take job ID, whose worker is gone: its lease
# expired more than M (1 s, self-fencing) ago.
wait_rescuable() {
    wait_for 10 sh -c "\"$WFQ\" jobs show $1 --json | python3 -c 'import datetime as d, json, sys
e = json.load(sys.stdin)[\"lease_expires_at\"]
sys.exit(0 if e and d.datetime.now(d.timezone.utc) - d.datetime.fromisoformat(e.replace(\"Z\", \"+00:00\")) > d.timedelta(seconds=1.2) else 1)'"
}

# proc_start PID: when the process began (clock ticks since boot, /proc/PID/stat field 22), to
# tell it from a later process that reuses its PID: pid_max is 32768 on the test machines, and a
# busy parallel run wraps it within seconds, so `kill -0 PID` alone may see a stranger.
proc_start() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }  # after the command name, which may hold spaces
    set -- $stat       # field 1 here is field 3 (state) of the whole line
    [ "$1" = Z ] || echo "${20}"  # a zombie has ended
}
# gone PID START: the process that had PID when START was read has ended.
gone() { [ -z "$2" ] || [ "$(proc_start "$1")" != "$2" ]; }

jq_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
job_field() { "$WFQ" jobs show "$1" --json | jq_field "d['$2']"; }
