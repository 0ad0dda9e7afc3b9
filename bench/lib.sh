# Sourced by the bench/ scripts once `backend` is set (sqlite or postgresql): the release build
# as $WFQ, a temporary directory as $TMP (removed at exit), and `fresh NAME`, which points
# WFQ_DB at an empty database of its own: a new schema on PostgreSQL, a new file on SQLite.
here=$(cd "$(dirname "$0")" && pwd)
WFQ=${WFQ:-$here/../build/release/cli/wfq}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fresh() {
    if [ "$backend" = postgresql ]; then
        export WFQ_DB=postgresql:// WFQ_SCHEMA="bench_$1_$$"
        "$WFQ" migrate 2>/dev/null
    else
        export WFQ_DB="sqlite:$TMP/$1.db"
    fi
}
