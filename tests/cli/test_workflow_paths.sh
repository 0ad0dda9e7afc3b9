# Workflow stage paths resolve against the workflow file's directory, not the worker's: a worker
# started elsewhere runs the stages beside the file (and not same-named files in its own
# directory); `workflow check` verifies every stage command as resolved (exit 65 naming the file,
# line, stage and problem).
. "$(dirname "$0")/lib.sh"
command -v python3 > /dev/null || skip "python3 is needed by the stage scripts"

flows=$TMP/flows elsewhere=$TMP/elsewhere
mkdir -p "$flows/stages" "$elsewhere/stages"
# stage_script FILE KEY VALUE: an executable stage that sets context[KEY] = VALUE
stage_script() {
    printf '#!/bin/sh\nexec python3 -c '"'"'import json,sys; d=json.load(sys.stdin); d["%s"]="%s"; print(json.dumps(d))'"'"'\n' "$2" "$3" > "$1"
    chmod +x "$1"
}
stage_script "$flows/stages/validate.sh" validated_by workflow_dir
stage_script "$flows/stages/publish.sh" published_by workflow_dir
# Run through its interpreter, so not executable itself.
printf 'import json, sys\nd = json.load(sys.stdin)\nd["analyzed_by"] = "workflow_dir"\nd["args"] = sys.argv[1:]\nprint(json.dumps(d))\n' \
    > "$flows/analyze.py"
# Decoys with the same relative names in the worker's directory: they must not run.
stage_script "$elsewhere/stages/validate.sh" validated_by cwd
printf 'import json, sys\nd = json.load(sys.stdin)\nd["analyzed_by"] = "cwd"\nprint(json.dumps(d))\n' > "$elsewhere/analyze.py"

cat > "$flows/review.json" <<'EOF'
{
  "type": "paths",
  "retry": {"max_attempts": 1},
  "stages": [
    {"name": "validate", "exec": ["./stages/validate.sh"]},
    {"name": "analyze", "exec": ["python3", "analyze.py", "--label", "x"]},
    {"name": "publish", "exec": ["sh", "-c", "{workflow_dir}/stages/publish.sh"]}
  ]
}
EOF

cd "$elsewhere"
expect_exit 0 "$WFQ" workflow check ../flows/review.json
contains "$OUT" "../flows/review.json: ok (type paths, 3 stages)"
expect_exit 0 "$WFQ" workflow check ../flows/review.json --json
[ "$(echo "$OUT" | jq_field "d[0]['dir']")" = "$flows" ] || fail "dir: $OUT"
[ "$(echo "$OUT" | jq_field "d[0]['commands']['validate']")" = "['$flows/stages/validate.sh']" ] || fail "validate: $OUT"
# analyze.py names a file beside the workflow; --label and x do not, and stay as written.
[ "$(echo "$OUT" | jq_field "d[0]['commands']['analyze']")" = "['python3', '$flows/analyze.py', '--label', 'x']" ] || fail "analyze: $OUT"
[ "$(echo "$OUT" | jq_field "d[0]['commands']['publish']")" = "['sh', '-c', '$flows/stages/publish.sh']" ] || fail "publish: $OUT"
pass "workflow check resolves stage paths against the file's directory: command words, existing files, {workflow_dir}"

id=$("$WFQ" enqueue paths '{"pr": 1}')
"$WFQ" process --workflow ../flows/review.json --until-empty 2> "$TMP/worker.log"
[ "$(job_field "$id" state)" = completed ] || { tail -5 "$TMP/worker.log" >&2; fail "job $id: $("$WFQ" jobs show "$id")"; }
result=$("$WFQ" jobs show "$id" --json)
[ "$(echo "$result" | jq_field "[d['result'][k] for k in ('validated_by', 'analyzed_by', 'published_by')]")" = \
  "['workflow_dir', 'workflow_dir', 'workflow_dir']" ] || fail "stages that ran: $result"
[ "$(echo "$result" | jq_field "d['result']['args']")" = "['--label', 'x']" ] || fail "analyze's arguments: $result"
pass "a worker started from another directory runs the stages beside the workflow file, not same-named files in its own"

# The worker's directory does not matter for an absolute workflow path either: from /, too.
id2=$("$WFQ" enqueue paths '{"pr": 2}')
(cd / && "$WFQ" process --workflow "$flows/review.json" --until-empty 2>> "$TMP/worker.log")
[ "$(job_field "$id2" state)" = completed ] || fail "from /: job $id2: $("$WFQ" jobs show "$id2")"
pass "a worker started from / runs them too"

# check verifies each command: missing, not executable, a directory, a bare name not on PATH;
# every problem is reported, each naming the file, line, stage and problem; exit 65.
cd "$TMP"
printf '#!/bin/sh\ncat\n' > "$flows/stages/noexec.sh"
chmod 644 "$flows/stages/noexec.sh"
cat > "$flows/bad.json" <<'EOF'
{
  "type": "bad",
  "stages": [
    {"name": "fine", "exec": ["./stages/validate.sh"]},
    {"name": "missing", "exec": ["./stages/missing.sh"]},
    {"name": "noexec", "exec": ["stages/noexec.sh"]},
    {"name": "dir", "exec": ["./stages"]},
    {"name": "nopath", "exec": ["wfq-no-such-command-here", "x"]},
    {"name": "config", "builtin": "resolve_config"}
  ]
}
EOF
expect_exit 65 "$WFQ" workflow check flows/bad.json
[ -z "$OUT" ] || fail "check printed ok for a bad file: $OUT"
contains "$ERR" "flows/bad.json:5: stages.1.exec.0: stage 'missing': command './stages/missing.sh' ($flows/stages/missing.sh) does not exist"
contains "$ERR" "flows/bad.json:6: stages.2.exec.0: stage 'noexec': command 'stages/noexec.sh' ($flows/stages/noexec.sh) is not executable"
contains "$ERR" "flows/bad.json:7: stages.3.exec.0: stage 'dir': command './stages' ($flows/stages) is a directory"
contains "$ERR" "flows/bad.json:8: stages.4.exec.0: stage 'nopath': command 'wfq-no-such-command-here' is not an executable on PATH"
case "$ERR" in *"'fine'"* | *"'config'"*) fail "a good stage reported: $ERR" ;; esac
[ "$(echo "$ERR" | grep -c '^wfq: flows/bad.json:')" = 4 ] || fail "expected 4 problems: $ERR"
pass "workflow check rejects missing, non-executable, directory and not-on-PATH stage commands (exit 65, all reported)"

# A path that was right only from the worker's directory (the old rule) is now a problem; a bare
# name is found on PATH; with several files, a bad one fails the check and the good one is still ok.
printf '{"type": "old", "stages": [{"name": "v", "exec": ["flows/stages/validate.sh"]}]}' > "$flows/old.json"
printf '{"type": "bare", "stages": [{"name": "b", "exec": ["cat"]}]}' > "$flows/bare.json"
expect_exit 65 "$WFQ" workflow check "$flows/bare.json" "$flows/old.json"
contains "$ERR" "old.json:1: stages.0.exec.0: stage 'v': command 'flows/stages/validate.sh' ($flows/flows/stages/validate.sh) does not exist"
contains "$OUT" "bare.json: ok"
expect_exit 0 "$WFQ" workflow check "$flows/bare.json"
expect_exit 65 env PATH=/nonexistent "$WFQ" workflow check "$flows/bare.json"
contains "$ERR" "stage 'b': command 'cat' is not an executable on PATH"
pass "a cwd-relative stage path is reported; a bare name is looked up on PATH"
