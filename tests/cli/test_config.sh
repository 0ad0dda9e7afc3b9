# Config documents, resolution, and invalidation reaching two running worker processes.
. "$(dirname "$0")/lib.sh"

expect_exit 0 "$WFQ" config set global '{"model": "small", "limits": {"files": 50}}'
echo '{"model": "large"}' | "$WFQ" config set org:acme -
"$WFQ" config set org:acme/repo:widgets '{"limits": {"lines": 900}}'
expect_exit 0 "$WFQ" config resolve --org acme --repo widgets --json --explain
[ "$(echo "$OUT" | jq_field "d['config']")" = "{'limits': {'files': 50, 'lines': 900}, 'model': 'large'}" ] || fail "resolve: $OUT"
[ "$(echo "$OUT" | jq_field "d['sources']")" = "{'limits': 'org:acme/repo:widgets', 'model': 'org:acme'}" ] || fail "explain: $OUT"
expect_exit 0 "$WFQ" config resolve --org acme --repo widgets --explain
contains "$OUT" "org:acme/repo:widgets"
expect_exit 0 "$WFQ" config get org:acme --json
[ "$(echo "$OUT" | jq_field "d['model']")" = large ] || fail "get"
pass "config set/get/resolve: RFC 7396 merge, most specific last, --explain names each key's scope"

expect_exit 65 "$WFQ" config set org:acme '{"model": '
expect_exit 65 "$WFQ" config set org:acme '[1]'
expect_exit 2 "$WFQ" config set team:x '{}'
expect_exit 2 "$WFQ" config get 'org:'
expect_exit 4 "$WFQ" config get org:nobody
expect_exit 4 "$WFQ" config unset org:nobody
expect_exit 2 "$WFQ" cache invalidate
expect_exit 2 "$WFQ" cache invalidate --all --org acme
[ "$("$WFQ" config get org:acme --json | jq_field "d['model']")" = large ] || fail "a rejected set changed the config"
pass "bad JSON exits 65, bad scope 2, unknown scope 4; nothing changes"

# Two workers, each with its own cache, on their own queues.
cat > "$TMP/handler.sh" <<'SH'
#!/bin/sh
cat > /dev/null
if [ -n "${WFQ_CONFIG_FILE:-}" ]; then cat "$WFQ_CONFIG_FILE"; else echo '{"none": true}'; fi
SH
chmod +x "$TMP/handler.sh"
workers=()
for q in qa qb; do
    "$WFQ" process --queue $q --lease 3s --poll 100ms --exec "$TMP/handler.sh" 2> "$TMP/$q.log" &
    workers+=($!)
done
result() { "$WFQ" jobs show "$1" --json | jq_field "json.dumps(d['result'], sort_keys=True) if d['state'] == 'completed' else ''" ; }
run_job() {  # queue -> prints the job's result once it completed
    local id; id=$("$WFQ" enqueue review '{}' --queue "$1" --org acme --repo widgets)
    local r=""; local deadline=$(( $(date +%s) + 20 ))
    while [ -z "$r" ]; do
        r=$(result "$id"); [ "$(date +%s)" -lt "$deadline" ] || fail "job $id on $1 did not complete"
    done
    echo "$r"
}
for q in qa qb; do run_job $q | grep '"model": "large"' > /dev/null || fail "$q: first config"; done
nocfg=$("$WFQ" enqueue plain '{}' --queue qa)
wait_for 20 sh -c "'$WFQ' jobs show $nocfg --json | grep '\"none\": true' > /dev/null"
pass "handlers get the effective config in WFQ_CONFIG_FILE (and none without an org)"

# within_1s PATTERN: both workers' jobs show PATTERN within a second of now.
within_1s() {
    local changed; changed=$(date +%s%N)
    for q in qa qb; do
        until run_job $q | grep -- "$1" > /dev/null; do
            [ $(( ($(date +%s%N) - changed) / 1000000 )) -lt "$(bound_ms 1000)" ] || fail "$q still served the old config 1s after the change"
        done
        echo "$q saw the change after $(( ($(date +%s%N) - changed) / 1000000 )) ms"
    done
}
"$WFQ" config set org:acme '{"model": "huge"}'
within_1s '"model": "huge"'
pass "both worker processes see a changed config within 1s"

"$WFQ" cache invalidate --org acme
"$WFQ" config set global '{"model": "tiny", "limits": {"files": 1}}'
within_1s '"files": 1'
"$WFQ" config unset org:acme
within_1s '"model": "tiny"' 
wait_for 10 sh -c "'$WFQ' cache stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d[\"workers\"]) == 2 and d[\"total\"][\"loads\"] >= 4 and d[\"total\"][\"invalidations\"] >= 2 else 1)'"
expect_exit 0 "$WFQ" cache stats
contains "$OUT" "total"
kill -TERM "${workers[@]}"
expect_wait 0 "${workers[0]}" "worker qa after SIGTERM" "$TMP/qa.log"
expect_wait 0 "${workers[1]}" "worker qb after SIGTERM" "$TMP/qb.log"
pass "cache invalidate and global changes reach the workers; cache stats shows each worker and the total"
