# examples/sql/producer.mjs (pg): enqueue in the application's transaction, rollback and commit.
# The pg package comes from npm: `npm install` in examples/sql, or bench/peers' /tmp/wfq-peers.
# wfq-test: postgresql-only
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sql_example_lib.sh"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/sql" && pwd)
command -v node > /dev/null || skip "node is not installed (scripts/install-deps.sh installs nodejs)"
# An ES module resolves packages from its own directory up, not NODE_PATH: run a copy beside pg.
for modules in "$EXAMPLE/node_modules" "${PEERS_DIR:-/tmp/wfq-peers}/node_modules"; do
    if [ -f "$modules/pg/package.json" ]; then
        mkdir "$TMP/example"
        cp "$EXAMPLE/producer.mjs" "$EXAMPLE/package.json" "$TMP/example/"
        ln -s "$modules" "$TMP/example/node_modules"
        run_producer_example "Node (pg)" node "$TMP/example/producer.mjs"
        exit 0
    fi
done
skip "the pg package is not installed: cd examples/sql && npm install (or run bench/peers/run.sh once)"
