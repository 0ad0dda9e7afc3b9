# wfq top in a real terminal (tmux): the frame shows queues, workers and failures, its figures
# change as jobs flow, `q` quits and the terminal is restored (normal screen, cursor, line
# mode), also after SIGINT and SIGTERM. Without a terminal, or with --once/--json, one frame.
. "$(dirname "$0")/lib.sh"
command -v tmux > /dev/null || skip "tmux is not installed (scripts/install-deps.sh installs it)"
SOCK="wfq-test-top-$$"
tm() { tmux -L "$SOCK" "$@"; }
cleanup_tmux() { tm kill-server 2> /dev/null || true; cleanup; }
trap cleanup_tmux EXIT
screen() { tm capture-pane -p -t top; }
shows() { screen | grep -E -- "$1" > /dev/null; }
# queue_row QUEUE COLUMN: a figure of QUEUE's row in the frame (2 pending ... 7 done/min).
queue_row() { screen | awk -v q="$1" -v c="$2" '$1 == q { print $c; exit }'; }
row_is() { [ "$(queue_row "$1" "$2")" = "$3" ]; }

"$WFQ" queues list > /dev/null
expect_exit 0 "$WFQ" top
contains "$OUT" "QUEUES"
contains "$OUT" "RECENT FAILURES"
case "$OUT" in *$'\033'*) fail "escape codes in a pipe" ;; esac
expect_exit 0 "$WFQ" top --json
[ "$(echo "$OUT" | jq_field "sorted(d)")" = "['now', 'queues', 'recent_failures', 'stuck', 'workers']" ] || fail "top --json: $OUT"
pass "without a terminal top prints one plain frame (--json: one object)"

tm new-session -d -s top -x 150 -y 45 "bash --norc --noprofile"
tm send-keys -t top "PS1='prompt\$ '; clear; echo before-top" Enter
wait_for 10 shows "^before-top"
tm send-keys -t top "bash -c 'echo \$\$ > $TMP/top.pid; exec \"$WFQ\" top --interval 200ms'; echo top-exit=\$?" Enter
wait_for 10 shows "^QUEUES"
[ "$(tm display -p -t top '#{alternate_on}')" = 1 ] || fail "top does not use the alternate screen"
for i in $(seq 30); do echo '{"type": "flow", "queue": "flow"}'; done | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
wait_for 10 row_is flow 2 30
pass "the live frame shows a new queue's 30 pending jobs"
"$WFQ" process --queue flow --until-empty --concurrency 4 --exec sh -c 'case $WFQ_JOB_ID in *0) exit 65 ;; esac' 2> "$TMP/worker.log"
wait_for 10 row_is flow 2 0
wait_for 10 row_is flow 7 27
wait_for 10 row_is flow 6 3
wait_for 10 shows "exit_code"
pass "figures change as jobs flow: pending 30 -> 0, 27 done and 3 failed in the last minute, the failures listed"

tm send-keys -t top q
wait_for 10 shows "^top-exit=0"
shows "^QUEUES" && fail "the frame is still on the screen after q"
shows "^before-top" || fail "the screen before top was not restored"
[ "$(tm display -p -t top '#{alternate_on}')" = 0 ] || fail "still on the alternate screen"
[ "$(tm display -p -t top '#{cursor_flag}')" = 1 ] || fail "cursor hidden after q"
tm send-keys -t top "stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon' > $TMP/stty" Enter
wait_for 10 test -s "$TMP/stty"
[ "$(cat "$TMP/stty")" = icanon ] || fail "line mode not restored: $(cat "$TMP/stty")"
pass "q quits with 0 and restores the terminal (normal screen, cursor, line mode)"

for sig in INT TERM; do
    rm -f "$TMP/top.pid"
    tm send-keys -t top "clear; bash -c 'echo \$\$ > $TMP/top.pid; exec \"$WFQ\" top'; echo top-exit=\$?" Enter
    wait_for 10 shows "^QUEUES"
    if [ $sig = INT ]; then tm send-keys -t top C-c; else kill -TERM "$(cat "$TMP/top.pid")"; fi
    wait_for 10 shows "^top-exit=130"
    [ "$(tm display -p -t top '#{alternate_on}')" = 0 ] || fail "SIG$sig: still on the alternate screen"
    [ "$(tm display -p -t top '#{cursor_flag}')" = 1 ] || fail "SIG$sig: cursor hidden"
    rm -f "$TMP/stty"
    tm send-keys -t top "stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon' > $TMP/stty" Enter
    wait_for 10 test -s "$TMP/stty"
    [ "$(cat "$TMP/stty")" = icanon ] || fail "SIG$sig: line mode not restored"
    pass "SIG$sig ends top with 130 and restores the terminal"
done
