# Sourced by the bench/ scripts once `backend` is set (sqlite or postgresql): the release build
# as $WFQ, a temporary directory as $TMP (removed at exit), and `fresh NAME`, which points
# WFQ_DB at an empty database of its own: a new schema on PostgreSQL, a new file on SQLite.
# The schemas a script made are dropped at its exit (BENCH_KEEP=1 keeps them, to look at).
here=$(cd "$(dirname "$0")" && pwd)
WFQ=${WFQ:-$here/../build/release/cli/wfq}
TMP=$(mktemp -d)
bench_cleanup() {  # fresh's schemas end in this script's $$ (the same in its subshells)
    if [ "${backend:-}" = postgresql ] && [ -z "${BENCH_KEEP:-}" ]; then
        psql -XAtqc "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%\\_$$'" 2> /dev/null |
            while read -r s; do psql -XAtqc "DROP SCHEMA IF EXISTS \"$s\" CASCADE" > /dev/null 2>&1 || true; done
    fi
    rm -rf "$TMP"
}
trap bench_cleanup EXIT
fresh() {
    if [ "$backend" = postgresql ]; then
        export WFQ_DB=postgresql:// WFQ_SCHEMA="bench_$1_$$"
        "$WFQ" migrate 2>/dev/null
    else
        export WFQ_DB="sqlite:$TMP/$1.db"
    fi
}
