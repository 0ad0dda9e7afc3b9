#!/bin/sh
# The quick tour's nightly report (README, "A quick tour"), run as
#   wfq lock run nightly-report --ttl 1m -- examples/tour/report.sh
# so that one host of a fleet writes it while the others skip. wfq holds and renews the lock
# while this runs and passes its fencing token in WFQ_LOCK_TOKEN (give it to whatever you write
# to, so that a stale holder's late write can be refused).
set -eu
echo "wfq report $(date -u +%Y-%m-%dT%H:%M:%SZ), lock token $WFQ_LOCK_TOKEN"
wfq queues list
echo
echo "failed jobs:"
wfq jobs list --state failed
