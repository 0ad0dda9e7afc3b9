# The recipes in examples/ work as written: the crontab line (two overlapping runs), the
# systemd units (systemd-analyze verify), and the stuck-job runbook, command for command.
. "$(dirname "$0")/lib.sh"
EX="$WFQ_SOURCE_DIR/examples"
bindir=$TMP/bin; mkdir -p "$bindir"; ln -s "$WFQ" "$bindir/wfq"; export PATH="$bindir:$PATH"
cat > "$TMP/handler" <<SH
#!/bin/sh
echo "\$WFQ_JOB_ID" >> "$TMP/ran"
SH
chmod +x "$TMP/handler"

# Every recipe that runs `wfq process` sets --timeout among wfq's own flags (before --exec or
# --): without it a hung handler is handed back at every stop and never spends an attempt.
python3 - "$EX"/cron/* "$EX"/systemd/* > "$TMP/timeouts" <<'PY' || { cat "$TMP/timeouts"; fail "a recipe runs wfq process without --timeout"; }
import re, shlex, sys
found, bad = 0, []
for path in sys.argv[1:]:
    for n, line in enumerate(open(path), 1):
        if line.lstrip().startswith("#") or not re.search(r"\bwfq process\b", line):
            continue
        words = shlex.split(line.split("wfq process", 1)[1], comments=True)
        own = words[:next((i for i, w in enumerate(words) if w in ("--exec", "--")), len(words))]
        found += 1
        if not any(w == "--timeout" or w.startswith("--timeout=") for w in own):
            bad.append(f"{path}:{n}: no --timeout before the handler: {line.strip()}")
print("\n".join(bad))
print(f"{found} recipe lines run wfq process")
sys.exit(1 if bad or found < 3 else 0)
PY
pass "every recipe's wfq process line sets --timeout ($(tail -1 "$TMP/timeouts"))"

# cron: the command of the crontab line, with our handler and without the log redirect
cmd=$(grep -E '^\* \* \* \* \*' "$EX/cron/wfq.crontab" | sed -E 's/^(\* ){5} *//; s/ >>.*$//; s#/usr/local/bin/review-handler#'"$TMP/handler"'#')
contains "$cmd" "--max-time 55s --until-empty --timeout 50s"
for i in $(seq 1 60); do echo '{"type": "review"}'; done | wfq enqueue --ndjson - > /dev/null 2>&1
sh -c "$cmd" 2> "$TMP/cron1.log" &
cron1=$!
sh -c "$cmd" 2> "$TMP/cron2.log" &
cron2=$!
expect_wait 0 "$cron1" "the first crontab run" "$TMP/cron1.log"
expect_wait 0 "$cron2" "the second crontab run" "$TMP/cron2.log"
[ "$(wc -l < "$TMP/ran")" = 60 ] || fail "$(wc -l < "$TMP/ran") runs for 60 jobs"
[ "$(sort -u "$TMP/ran" | wc -l)" = 60 ] || fail "a job ran twice"
pass "the crontab command, run twice at once, runs each of 60 jobs exactly once and stops"

if [ "$WFQ_TEST_BACKEND" = sqlite ]; then
    mkdir -p "$TMP/units"
    for u in "$EX"/systemd/*; do
        sed "s#/usr/bin/wfq#$WFQ#; s#/usr/local/bin/review-handler#/bin/true#" "$u" > "$TMP/units/$(basename "$u")"
    done
    (cd "$TMP/units" && systemd-analyze verify ./*.service ./*.timer) > "$TMP/verify" 2>&1 || { cat "$TMP/verify"; fail "systemd-analyze verify"; }
    grep -v "^$" "$TMP/verify" | grep -iv "Failed to open /dev/tty" > /dev/null && { cat "$TMP/verify"; fail "systemd-analyze verify warnings"; }
    pass "systemd units pass systemd-analyze verify"
fi

# runbook: stage a stuck job (its worker SIGKILLed), then run the runbook's commands in order
JOB=$(wfq enqueue stuck '{}')
export JOB
wfq process --type stuck --lease 1s --rescue-interval 0 --exec sleep 60 2> /dev/null &
worker=$!
wait_for 20 sh -c "wfq jobs show $JOB --json | grep '\"state\": \"running\"' > /dev/null"
kill -KILL "$worker"
expect_wait 137 "$worker" "the SIGKILLed worker"
wait_for 10 sh -c "wfq jobs list --stuck --json | python3 -c 'import json,sys; sys.exit(0 if [j[\"id\"] for j in json.load(sys.stdin)] == [$JOB] else 1)'"
wait_rescuable "$JOB"  # 1 s (M) past its lease's expiry, when a cut-off worker has surely stopped it
python3 - "$EX/runbook.md" > "$TMP/runbook.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for block in re.findall(r"```sh\n(.*?)```", text, re.S):
    for line in block.strip().splitlines():
        print(line.strip())
PY
[ "$(wc -l < "$TMP/runbook.sh")" -ge 5 ] || fail "runbook has $(wc -l < "$TMP/runbook.sh") commands"
while read -r line; do
    sh -c "$line" > "$TMP/step" 2>&1 || { cat "$TMP/step"; fail "runbook step failed: $line"; }
    case "$line" in
        "wfq jobs list --stuck") contains "$(cat "$TMP/step")" "$JOB" ;;
        "wfq rescue") contains "$(cat "$TMP/step")" "$JOB pending" ;;
    esac
done < "$TMP/runbook.sh"
[ "$(job_field "$JOB" state)" = pending ] || fail "runbook left the job $(job_field "$JOB" state)"
wfq process --type stuck --until-empty --exec true 2> /dev/null
[ "$(job_field "$JOB" state)" = completed ] || fail "the job did not complete after the runbook"
pass "the stuck-job runbook finds, rescues and requeues a job whose worker died; it then completes"

# The example workflow validates and runs end to end (a review that waits for approval).
cd "$WFQ_SOURCE_DIR"
wfq workflow check examples/workflows/code_review.json > /dev/null || fail "example workflow does not validate"
wfq config set org:acme '{"model": "large"}' 2> /dev/null
review=$(wfq enqueue code_review '{"organizationId": "acme", "repository": {"id": "r1"}, "pullRequest": {"number": 5}}')
wfq process --workflow examples/workflows/code_review.json --until-empty 2> /dev/null
[ "$(job_field "$review" state)" = waiting ] || fail "example review not waiting for approval"
wfq signal approved --key 5 --data '{"by": "maria"}' > /dev/null
wfq process --workflow examples/workflows/code_review.json --until-empty 2> /dev/null
[ "$(wfq jobs show "$review" --json | jq_field "d['result']['published']")" = "{'approvedBy': 'maria', 'suggestions': 1}" ] \
    || fail "example review result: $(wfq jobs show "$review" --json)"
pass "examples/workflows/code_review.json runs: validate, config, analyze, wait for approval, publish"
