#!/bin/sh
# Builds the fuzz preset (clang-14, libFuzzer, ASan + UBSan) and runs each harness of tests/fuzz
# for SECONDS (default 60), one after another, at the lowest CPU priority. A harness may be named
# to run it alone: scripts/fuzz.sh 600 dsn. The corpus each run grows is kept in
# build/fuzz/runs/NAME/corpus (seeded from tests/fuzz/corpus/NAME); a crash or a failed property
# is written to build/fuzz/runs/NAME/ and the script exits 1 after the others ran: minimise it
# (NAME_fuzzer -minimize_crash=1 FILE) and add it to tests/fuzz/regressions/NAME/, which ctest
# replays in every build. Prints executions, coverage (cov) and features (ft) per harness.
# WFQ_FUZZ_BUILD=0 runs the harnesses already built (long runs one after another).
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-60}
only=${2:-}
if [ "${WFQ_FUZZ_BUILD:-1}" != 0 ]; then
    cmake --preset fuzz > /dev/null
    # Under the build lock engineers share on one machine (docs/DEVELOPMENT.md); alone in CI it is free.
    flock -o "${WFQ_BUILD_LOCK:-/tmp/wfq-build.lock}" cmake --build --preset fuzz -j"${WFQ_FUZZ_JOBS:-2}"
fi
bin=build/fuzz/tests/fuzz
runs=build/fuzz/runs
json_harnesses=" ndjson_line stream_line workflow template json_patch merge_patch state_blob config "
# WFQ_FUZZ_PARALLEL=N runs N harnesses at once (CI: 2, one per core, after the tests); by hand
# the default is one at a time, so a long run does not starve the builds beside it.
parallel=${WFQ_FUZZ_PARALLEL:-1}

fuzz_one() {
    name=$1
    mkdir -p "$runs/$name/corpus"
    dict="$runs/$name/dict"
    : > "$dict"
    case "$json_harnesses" in *" $name "*) cat tests/fuzz/dict/json.dict >> "$dict" ;; esac
    [ ! -f "tests/fuzz/dict/$name.dict" ] || cat "tests/fuzz/dict/$name.dict" >> "$dict"
    log="$runs/$name/last.log"
    echo "fuzzing $name for ${seconds}s" >&2
    status=0
    nice -n 19 "$bin/${name}_fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="$dict" -artifact_prefix="$runs/$name/" "$runs/$name/corpus" "tests/fuzz/corpus/$name" > "$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$status" != 0 ]; then
        grep -E 'ERROR|property failed|SUMMARY|Test unit written' "$log" | head -5 >&2
        result="FAILED (see $log)"
    else
        result=ok
    fi
    printf '%-12s %8ss %12s execs  cov %6s  ft %7s  %s\n' "$name" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result" \
        > "$runs/$name/summary"
}

names=""
for src in tests/fuzz/*_fuzzer.cpp; do
    name=$(basename "$src" _fuzzer.cpp)
    [ -z "$only" ] || [ "$only" = "$name" ] || continue
    names="$names $name"
    rm -f "$runs/$name/summary"
done
# In batches of $parallel: every harness runs the same time, so a batch ends together.
running=0
for name in $names; do
    fuzz_one "$name" &
    running=$((running + 1))
    if [ "$running" -ge "$parallel" ]; then wait; running=0; fi
done
wait
failed=""
for name in $names; do
    if [ -f "$runs/$name/summary" ]; then cat "$runs/$name/summary"; else echo "$name: no result" >&2; failed="$failed $name"; fi
    ! grep -q FAILED "$runs/$name/summary" 2> /dev/null || failed="$failed $name"
done
[ -z "$failed" ] || { echo "fuzzers that found something:$failed" >&2; exit 1; }
