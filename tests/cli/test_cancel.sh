# Prompt cancel: `wfq jobs cancel` stops a running job's handler within 1 s (the worker's lease
# is 30 s, so its heartbeat alone would take 10 s), for exec and pipeline jobs; the timeline says
# who cancelled it; the worker goes on and exits 0.
. "$(dirname "$0")/lib.sh"
"$WFQ" queues list > /dev/null  # create the database before workers start side by side

cat > "$TMP/slow.sh" <<SH
#!/bin/sh
echo \$\$ > "$TMP/pid.\$WFQ_JOB_ID"
exec sleep 60
SH
chmod +x "$TMP/slow.sh"
cat > "$TMP/flow.json" <<JSON
{"type": "flow", "stages": [
  {"name": "quick", "exec": ["cat"]},
  {"name": "slow", "exec": ["$TMP/slow.sh"]}
]}
JSON
# By pid and start time (lib.sh's proc_start): a pid reused by another process is not "alive".
alive() { ! gone "$(cat "$TMP/pid.$1")" "$(cat "$TMP/start.$1")"; }
stopped() { ! alive "$1"; }

"$WFQ" process --lease 30s --concurrency 2 --type slow --exec "$TMP/slow.sh" 2> "$TMP/exec.log" &
exec_worker=$!
"$WFQ" process --lease 30s --workflow "$TMP/flow.json" 2> "$TMP/flow.log" &
flow_worker=$!

for kind in exec pipeline; do
    if [ $kind = exec ]; then id=$("$WFQ" enqueue slow '{}'); else id=$("$WFQ" enqueue flow '{}'); fi
    wait_for 30 test -s "$TMP/pid.$id"
    proc_start "$(cat "$TMP/pid.$id")" > "$TMP/start.$id"
    [ -s "$TMP/start.$id" ] || fail "$kind handler not running"
    start=$(date +%s%N)
    expect_exit 0 "$WFQ" jobs cancel "$id"
    contains "$OUT" "$id cancelled"
    wait_for 10 stopped "$id"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$ms" -lt "$(bound_ms 1000)" ] || fail "$kind handler stopped ${ms}ms after cancel (want < 1s)"
    [ "$(job_field "$id" state)" = cancelled ] || fail "$kind job not cancelled"
    who=$("$WFQ" jobs show "$id" --json | jq_field "[e['message'] for e in d['events'] if e['kind'] == 'cancelled'][0]")
    [ "$who" = "cancelled by $(id -un)@$(hostname)" ] || fail "timeline says '$who'"
    pass "$kind: the running handler stopped ${ms}ms after cancel; the timeline says '$who'"
done

kill -TERM "$exec_worker" "$flow_worker"
expect_wait 0 "$exec_worker" "exec worker" "$TMP/exec.log"
expect_wait 0 "$flow_worker" "pipeline worker" "$TMP/flow.log"
contains "$(cat "$TMP/exec.log")" "lease lost"
pass "workers exit 0 after their jobs were cancelled"
