# examples/sql/producer.mjs (pg): enqueue in the application's transaction, rollback and commit.
# The pg package comes from npm (pinned in examples/sql/package.json), installed into
# WFQ_NPM_CACHE as the OTLP interop test installs its SDK; skipped (77) only when npm cannot.
# wfq-test: postgresql-only
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sql_example_lib.sh"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/sql" && pwd)
command -v node > /dev/null || skip "node is not installed (scripts/install-deps.sh installs nodejs)"
command -v npm > /dev/null || skip "npm is not installed"
cache=${WFQ_NPM_CACHE:-/tmp/wfq-npm}/sql-example
mkdir -p "$cache"
if ! flock "$cache/.lock" sh -c 'cmp -s "$2/package.json" "$1/package.json" && [ -f "$1/node_modules/.installed" ] || { cp "$2/package.json" "$1/package.json" && cd "$1" && timeout 300 npm install --no-audit --no-fund > npm.log 2>&1 && touch node_modules/.installed; }' sh "$cache" "$EXAMPLE"; then
    skip "npm install of pg failed (no registry?): $(tail -3 "$cache/npm.log")"
fi
# An ES module resolves packages from its own directory up, not NODE_PATH: run a copy beside pg.
mkdir "$TMP/example"
cp "$EXAMPLE/producer.mjs" "$EXAMPLE/package.json" "$TMP/example/"
ln -s "$cache/node_modules" "$TMP/example/node_modules"
run_producer_example "Node (pg)" node "$TMP/example/producer.mjs"
