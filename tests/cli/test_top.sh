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
[ "$(echo "$OUT" | jq_field "sorted(d)")" = "['limits', 'longest_running', 'now', 'queues', 'recent_failures', 'stuck', 'workers']" ] || fail "top --json: $OUT"
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

# At 80x24, the classic terminal, the frame fits without losing words: a long name is cut and
# ends in "…", headers are whole (short forms when needed), a column left out is marked by a
# last header "…" and named in the title, the STATUS column (paused) is always there, and figures
# such as the oldest age are never cut. In a pipe nothing is cut.
old_run_at=$(date -u -d '-1460 seconds' +%Y-%m-%dT%H:%M:%SZ)
"$WFQ" enqueue report '{}' --queue notifications-eu-west-1 --run-at "$old_run_at" > /dev/null
"$WFQ" queues pause notifications-eu-west-1 > /dev/null 2>&1
long_type=a_rather_long_job_type_name_for_reports
for i in 1 2 3; do "$WFQ" enqueue "$long_type" '{}' --queue mail-digests-weekly --max-attempts 1 > /dev/null; done
"$WFQ" process --queue mail-digests-weekly --until-empty --exec sh -c 'exit 3' 2> /dev/null
"$WFQ" process --queue idle-queue --exec true 2> "$TMP/idle-worker.log" &
worker_up() { "$WFQ" workers list --json | jq_field "[w['queues'] for w in d]" | grep idle-queue; }
wait_for 10 worker_up
expect_exit 0 "$WFQ" top --once
contains "$OUT" "notifications-eu-west-1"
contains "$OUT" "$long_type"
contains "$OUT" "FAILED/MIN"
case "$OUT" in *"…"*) fail "top --once cut in a pipe: $OUT" ;; esac

tm new-session -d -s narrow -x 80 -y 24 "bash --norc --noprofile"
tm send-keys -t narrow "clear; exec \"$WFQ\" top --interval 200ms" Enter
narrow() { tm capture-pane -p -t narrow; }
narrow_shows() { narrow | grep -E -- "$1" > /dev/null; }
wait_for 10 narrow_shows "^QUEUES"
wait_for 10 narrow_shows "^notific.*paused *$"
wait_for 10 narrow_shows "^WORKERS"
narrow > "$TMP/narrow"
[ "$(wc -l < "$TMP/narrow")" -le 24 ] || fail "more than 24 lines: $(cat "$TMP/narrow")"
python3 - "$TMP/narrow" "$long_type" <<'PY' || fail "the 80x24 frame: $(cat "$TMP/narrow")"
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
long_type = sys.argv[2]
def check(ok, what):
    if not ok:
        print(what, file=sys.stderr)
        sys.exit(1)
check(all(len(l) <= 80 for l in lines), "a line is wider than 80 columns")
check(lines[0].startswith("wfq top") and re.search(r"(workers \d+|…)$", lines[0]), "summary line cut: " + lines[0])
def table(title):  # the title line, the header line and the rows of a section
    i = next(i for i, l in enumerate(lines) if l.startswith(title))
    rows = []
    for l in lines[i + 2:]:
        if not l.strip(): break
        rows.append(l.split())
    return lines[i], lines[i + 1].split(), rows
known = {"QUEUE", "PENDING", "PEND", "SCHEDULED", "SCHED", "RUNNING", "RUN", "WAITING", "WAIT", "FAILED", "FAIL",
         "DONE/MIN", "DONE/M", "FAILED/MIN", "FAIL/M", "OLDEST", "STATUS", "…"}
title, header, rows = table("QUEUES")
check(set(header) <= known, "a queue header is cut: %s" % header)
check("STATUS" in header and "OLDEST" in header, "STATUS or OLDEST left out: %s" % header)
check(("…" in header) == title.startswith("QUEUES  (hidden: "), "a left-out column is not marked in both the header and the title: %s / %s" % (title, header))
row = next(r for r in rows if r[0].startswith("notific"))
check(row[0].endswith("…") and "notifications-eu-west-1".startswith(row[0][:-1]), "the long queue name is not cut with …: %s" % row)
check(row[-1] == "paused", "the paused queue's STATUS: %s" % row)
check(re.fullmatch(r"2[4-9]m\d+s", row[-2]), "the oldest age is cut: %s" % row)
title, header, rows = table("RECENT FAILURES")
check(set(header) <= {"ID", "TYPE", "QUEUE", "CLASS", "ATTEMPT", "ATT", "FAILED", "…"}, "a failure header is cut: %s" % header)
mine = [r for r in rows if r[1].startswith("a_rather")]
check(len(mine) == 3, "the three failures of %s: %s" % (long_type, rows))
for r in mine:
    check(r[1].endswith("…") and long_type.startswith(r[1][:-1]), "the long type is not cut with …: %s" % r)
    check(r[-1] == "ago" and re.fullmatch(r"\d+(\.\d+)?(ms|s)|\d+[dhm](\d+[hms])?", r[-2]), "a failure's age is cut: %s" % r)
title, header, rows = table("WORKERS")
check(set(header) <= {"ID", "HOST", "RUNNING", "RUN", "UP", "HEARTBEAT", "…"} and "HEARTBEAT" in header, "a worker header is cut: %s" % header)
check(rows and all(r[-1] == "ago" for r in rows), "a worker's heartbeat is cut: %s" % rows)
PY
pass "at 80x24 the frame fits: names cut with …, whole headers, left-out columns marked, STATUS and figures whole"

# Narrower (the window resized under the running view): columns are left out, the header line
# ends in "…" and the title names them; QUEUE, PENDING, RUNNING, FAILED, OLDEST and STATUS stay.
tm resize-window -t narrow -x 56 -y 24
# A frame laid out for 56 columns keeps STATUS and ends its header in "…" (one laid out for 80 and
# cut by the screen, drawn while the resize arrives, loses STATUS: wait for the next).
wait_for 10 sh -c "tmux -L '$SOCK' capture-pane -p -t narrow | grep -A1 '^QUEUES' | tail -1 | grep -E 'STATUS +…$'"
narrow > "$TMP/narrower"
python3 - "$TMP/narrower" <<'PY' || fail "the 56-column frame: $(cat "$TMP/narrower")"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
i = lines.index(next(l for l in lines if l.startswith("QUEUES")))
title, header = lines[i], lines[i + 1].split()
assert all(len(l) <= 56 for l in lines), "a line is wider than 56 columns"
assert header[-1] == "…", header
for h in ("QUEUE", "PEND", "RUN", "FAIL", "OLDEST", "STATUS"):
    assert h in header, (h, header)
hidden = [h for h in ("SCHEDULED", "WAITING", "DONE/MIN", "FAILED/MIN") if h in title]
assert title.startswith("QUEUES  (hidden: ") and hidden, title
for h in hidden:
    short = {"SCHEDULED": "SCHED", "WAITING": "WAIT", "DONE/MIN": "DONE/M", "FAILED/MIN": "FAIL/M"}[h]
    assert short not in header, (h, header)
row = next(l.split() for l in lines[i + 2:] if l.startswith("notific"))
assert row[-1] == "paused", row
PY
pass "narrower: left-out columns marked by a last header … and named in the title; STATUS stays"
