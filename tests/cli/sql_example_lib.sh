# Shared by test_sql_example_*.sh: runs a producer of examples/sql/ (PRODUCER: the command
# before PR OUTCOME) with rollback and with commit, beside an idle worker with a 60s poll.
run_producer_example() {
    local label=$1; shift
    export PGOPTIONS="-c search_path=$WFQ_SCHEMA"  # the example's own table goes in the test's schema
    "$WFQ" process --type code_review --poll 60s --max-jobs 1 --exec sh -c 'cat > /dev/null' 2> "$TMP/worker.log" &
    local worker=$!
    wait_for 20 sh -c "\"$WFQ\" workers list --json | grep -q '\"pid\": *$worker'"

    expect_exit 0 "$@" 1 rollback
    contains "$OUT" "rolled back"
    [ "$("$WFQ" jobs list --type code_review --json | jq_field 'len(d)')" = 0 ] || fail "$label: a rolled-back enqueue left a job"
    [ "$(psql -X -Atqc "SELECT count(*) FROM $WFQ_SCHEMA.reviews")" = 0 ] || fail "$label: the rolled-back row exists"
    pass "$label: rollback leaves neither the row nor the job"

    expect_exit 0 "$@" 2 commit
    local id=$OUT
    [ "$(job_field "$id" key)" = "pr:2" ] || fail "$label: the committed job: $(job_field "$id" key)"
    [ "$(psql -X -Atqc "SELECT count(*) FROM $WFQ_SCHEMA.reviews WHERE pr = 2")" = 1 ] || fail "$label: the row"
    expect_wait 0 "$worker" "the idle worker" "$TMP/worker.log"
    [ "$(job_field "$id" state)" = completed ] || fail "$label: the worker did not run the job"
    # Started at the commit's NOTIFY, not at the worker's next poll (60s).
    local waited
    waited=$("$WFQ" jobs show "$id" --json | jq_field "__import__('datetime').datetime.fromisoformat(d['started_at'].replace('Z', '+00:00')).timestamp() - __import__('datetime').datetime.fromisoformat(d['created_at'].replace('Z', '+00:00')).timestamp()")
    python3 -c "import sys; sys.exit(0 if $waited < 10 else 1)" || fail "$label: the job waited ${waited}s to start"
    pass "$label: commit leaves both, and the idle worker started the job ${waited}s after it"
}
