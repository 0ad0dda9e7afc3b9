#!/bin/sh
# Usage: bench/instructions.sh sqlite|postgresql A_WFQ B_WFQ
# The user-space instructions two wfq binaries execute for the same benchmark, counted by
# callgrind (valgrind): the worker process only, not the /bin/true handlers it spawns. Unlike
# jobs/s or CPU seconds, the count barely moves when the machine is busy, so an A/B of a
# refactor reads as a ratio to within about 1% from one run. Run it under pg_virtualenv for
# postgresql. Slow (valgrind serialises the threads): 2,000 exec jobs take about a minute.
set -eu
backend=$1 A=$2 B=$3
command -v valgrind > /dev/null || { echo "bench/instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 77; }
. "$(dirname "$0")/lib.sh"
count() {  # NAME BINARY ARGS...: prints the instruction count
    name=$1 bin=$2
    shift 2
    WFQ=$bin
    fresh "$name"
    valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.cg" --trace-children=no "$bin" "$@" --json \
        > /dev/null 2> "$TMP/$name.err"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$TMP/$name.err"
}
printf '%-20s %15s %15s %7s\n' bench A B B/A
for case in "exec_c4:bench exec --jobs 2000 --concurrency 4" "exec_c8:bench exec --jobs 2000 --concurrency 8" \
            "work_c10:bench work --jobs 5000 --concurrency 10"; do
    name=${case%%:*}
    # shellcheck disable=SC2086
    a=$(count "a_$name" "$A" ${case#*:})
    # shellcheck disable=SC2086
    b=$(count "b_$name" "$B" ${case#*:})
    printf '%-20s %15s %15s %7s\n' "$name" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
done
