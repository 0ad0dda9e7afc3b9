#!/usr/bin/env bash
# Fails when a virtual method of Store (libqueue/include/wfq/store.h) is named by no store suite
# file (tests/store/*_suite_test.cpp), so that the suite keeps exercising every method on
# every backend.   usage: check_suite_names.sh SOURCE_DIR
set -euo pipefail
root=${1:?usage: check_suite_names.sh SOURCE_DIR}
header=$root/libqueue/include/wfq/store.h
methods=$(sed -n '/^class Store {/,/^};/p' "$header" | grep -oP 'virtual\s+[^(]*?\K\b\w+(?=\()' | grep -vx 'Store' | sort -u)
count=$(wc -w <<<"$methods")
if ((count < 10)); then
    echo "found only $count virtual methods of Store in $header: has its layout changed?" >&2
    exit 1
fi
missing=()
for m in $methods; do
    grep -qE "(\.|->)$m\(" "$root"/tests/store/*_suite_test.cpp || missing+=("$m")
done
if ((${#missing[@]})); then
    echo "Store methods that no tests/store/*_suite_test.cpp names: ${missing[*]}" >&2
    exit 1
fi
echo "each of the $count virtual methods of Store is named by a suite file"
