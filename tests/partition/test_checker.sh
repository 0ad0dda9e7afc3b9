#!/bin/bash
# The partition checker against kept histories (tests/data/partition/): the ones recorded with
# the code before self-fencing must fail it for the reasons issue 27 gives (two runs of a job at
# once, a lock's critical sections overlapping, `lock run` saying it stopped a command that had
# ended by itself), and the stream-handler cut recorded while a stream handler was only sent
# {"cancel": id} (its jobs working on past their leases); the ones recorded after must pass. Runs anywhere (no root, no database).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${WFQ_TEST_DATA:-$here/../data}/partition
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { python3 "$here/check_history.py" --margin 1.0 "$@"; }

set +e
out=$(check --history "$data/before-cut/history" --samples "$data/before-cut/samples" --jobs "$data/before-cut/jobs.tsv")
rc=$?
set -e
[ "$rc" = 1 ] || fail "the cut recorded before self-fencing passed the checker: $out"
case "$out" in *"were active together for 2."*) ;; *) fail "no overlap of two runs found in: $out" ;; esac
case "$out" in *"worked 2."*"after its lease expired"*) ;; *) fail "no late stop found in: $out" ;; esac
echo "ok: before self-fencing, a silent cut: two runs of one job overlap for seconds and the checker says so"

set +e
out=$(check --history "$data/before-lockcut/history" --samples "$data/before-lockcut/samples" \
    --locks "$data/before-lockcut/locks.tsv" --lock-outcomes "$data/before-lockcut/lock-outcomes")
rc=$?
set -e
[ "$rc" = 1 ] || fail "the lock cut recorded before self-fencing passed the checker: $out"
case "$out" in *"lock part-lock: runs"*"active together"*) ;; *) fail "no overlap of critical sections found in: $out" ;; esac
case "$out" in *"says it stopped the command, which had ended by itself"*) ;; *) fail "the untruthful lock run was not found in: $out" ;; esac
echo "ok: before self-fencing, a lock holder cut off: critical sections overlap, and lock run's message was untrue"

set +e
out=$(check --history "$data/before-streamcut/history" --samples "$data/before-streamcut/samples" --jobs "$data/before-streamcut/jobs.tsv")
rc=$?
set -e
[ "$rc" = 1 ] || fail "the stream-handler cut recorded before stream handlers were stopped passed the checker: $out"
case "$out" in *"worked 1."*"after its lease expired"*"ended by itself"*) ;; *) fail "no late stop found in: $out" ;; esac
echo "ok: before stream handlers were stopped, a silent cut: the cut host's stream handler works on past its leases and the checker says so"

for d in "$data"/after-*; do
    [ -d "$d" ] || continue
    args=(--history "$d/history" --samples "$d/samples")
    [ -f "$d/jobs.tsv" ] && args+=(--jobs "$d/jobs.tsv")
    [ -f "$d/locks.tsv" ] && args+=(--locks "$d/locks.tsv" --lock-outcomes "$d/lock-outcomes")
    out=$(check "${args[@]}") || fail "$(basename "$d") fails the checker: $out"
    echo "ok: $(basename "$d"), recorded with self-fencing, passes the checker"
done
