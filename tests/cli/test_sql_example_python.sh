# examples/sql/producer.py (psycopg2): enqueue in the application's transaction, rollback and commit.
# wfq-test: postgresql-only
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sql_example_lib.sh"
PY=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import psycopg2' 2> /dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || skip "psycopg2 is not installed (scripts/install-deps.sh installs python3-psycopg2)"
run_producer_example "Python (psycopg2)" "$PY" "$(dirname "$0")/../../examples/sql/producer.py"
