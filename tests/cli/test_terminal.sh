# Terminal niceties, checked through a real pseudo-terminal (script(1)): colour by state and
# progress only on a terminal, never with NO_COLOR or in a pipe; tables fit the terminal width.
# wfq-test: backend-independent
. "$(dirname "$0")/lib.sh"
unset NO_COLOR
on_tty() { script -qec "$1" /dev/null; }
esc=$(printf '\033')

"$WFQ" enqueue done '{}' > /dev/null
"$WFQ" enqueue later '{}' --delay 1h > /dev/null
"$WFQ" process --until-empty --exec true 2> /dev/null
out=$(on_tty "'$WFQ' jobs list")
contains "$out" "${esc}[32mcompleted"
contains "$out" "${esc}[34mscheduled"
out=$(on_tty "NO_COLOR=1 '$WFQ' jobs list")
case "$out" in *"$esc"*) fail "colour with NO_COLOR" ;; esac
contains "$out" "completed"
out=$("$WFQ" jobs list)
case "$out" in *"$esc"*) fail "colour in a pipe" ;; esac
pass "colour by state on a terminal; none with NO_COLOR or in a pipe"

"$WFQ" enqueue long '{}' --max-attempts 1 > /dev/null
"$WFQ" process --until-empty --type long --exec sh -c 'printf "%0300d" 0 >&2; exit 3' 2> /dev/null
out=$(on_tty "stty cols 70; '$WFQ' jobs list")
widest() { python3 -c "
import re, sys
print(max(len(re.sub(r'\x1b\[[0-9;]*m', '', l).rstrip('\r')) for l in sys.stdin.read().splitlines()))"; }
widest=$(printf '%s\n' "$out" | widest)
[ "$widest" -le 70 ] || fail "a row is $widest columns wide on a 70-column terminal"
contains "$out" "…"
wide=$("$WFQ" jobs list | widest)
[ "$wide" -gt 70 ] || fail "piped output was cut ($wide columns)"
pass "tables are cut to the terminal width (not in pipes)"

python3 -c "
import json
for i in range(3000): print(json.dumps({'type': 'bulk'}))" > "$TMP/bulk.ndjson"
out=$(on_tty "'$WFQ' enqueue --ndjson '$TMP/bulk.ndjson' --batch-size 10 > /dev/null")
contains "$out" "$(printf '\r')enqueued"
"$WFQ" enqueue --ndjson "$TMP/bulk.ndjson" --batch-size 10 > /dev/null 2> "$TMP/err"
grep "$(printf '\r')" "$TMP/err" > /dev/null && fail "progress in a pipe"
# prune reports progress after each batch: 40 completed jobs in batches of 10, on a terminal
# and with --json there.
completed_jobs() {
    for i in $(seq 1 40); do echo '{"type": "prunable"}'; done | "$WFQ" enqueue --ndjson - > /dev/null 2>&1
    "$WFQ" process --until-empty --type prunable --concurrency 4 --exec true 2> /dev/null
    [ "$("$WFQ" jobs list --state completed --type prunable --limit 1000 --json | jq_field "len(d)")" = 40 ] || fail "40 jobs did not complete"
}
completed_jobs
out=$(on_tty "'$WFQ' jobs prune --older-than 0 --state completed --batch-size 10")
contains "$out" "$(printf '\r')pruned 10"
contains "$out" "deleted 41 jobs"  # and the job completed above
completed_jobs
out=$(on_tty "'$WFQ' jobs prune --older-than 0 --state completed --batch-size 10 --json")
case "$out" in *"$(printf '\r')pruned"*) fail "progress with --json" ;; esac
contains "$out" '"deleted":40'
out=$(on_tty "'$WFQ' bench enqueue --jobs 3000 --batch-size 10 > /dev/null")
contains "$out" "$(printf '\r')enqueued"
"$WFQ" bench enqueue --jobs 3000 --batch-size 10 2> "$TMP/err" > /dev/null
grep "$(printf '\r')" "$TMP/err" > /dev/null && fail "bench progress in a pipe"
pass "progress (NDJSON enqueue, prune, bench) on a terminal's stderr, never in a pipe or with --json"

# Bulk actions ask on a terminal before touching more than 1,000 jobs (not with --yes, never
# without a terminal): 6,000 pending 'bulk' jobs from above.
out=$(echo n | on_tty "'$WFQ' jobs cancel --type bulk; echo exit=\$?")
contains "$out" "cancel 6000 jobs? [y/N]"
contains "$out" "nothing changed"
contains "$out" "exit=1"
[ "$("$WFQ" jobs cancel --type bulk --dry-run --json | jq_field "d['matched']")" = 6000 ] || fail "declined cancel changed jobs"
out=$(on_tty "'$WFQ' jobs cancel --type bulk --queue default --yes")
case "$out" in *"[y/N]"*) fail "asked despite --yes" ;; esac
contains "$out" "cancelled 6000 of 6000 matching jobs"
pass "bulk actions over 1,000 jobs ask on a terminal; no answer 'y' changes nothing; --yes skips the question"
