#!/bin/bash
# The work the partition test runs, as a job handler or as `wfq lock run`'s command. It appends
# its history to $PARTITION_HISTORY, one line per event, with the machine's wall clock (every
# host is a network namespace of this machine, so their clocks agree):
#   EVENT KIND SUBJECT RUN HOST UNIX_TIME
# EVENT start, tick (every 0.1 s while it works), end (finished by itself) or term (SIGTERM);
# KIND job (SUBJECT the job id, RUN its attempt) or lock (SUBJECT the key, RUN the fencing
# token, or the pid for an advisory lock); HOST the host's name ($PARTITION_HOST). A SIGKILL
# leaves no line: the last tick says when it was last alive. A job handler prints
# {"attempt": A, "host": H} as its result.
set -u
kind=$1
ticks=${PARTITION_TICKS:?}
if [ "$kind" = job ]; then
    cat > /dev/null  # the payload
    subject=$WFQ_JOB_ID run=$WFQ_ATTEMPT
else
    subject=$WFQ_LOCK_KEY run=$WFQ_LOCK_TOKEN
    [ "$run" != advisory ] || run=$$  # an advisory lock has no token: each holding is a run of its own
fi
note() { echo "$1 $kind $subject $run $PARTITION_HOST $EPOCHREALTIME" >> "$PARTITION_HISTORY"; }
trap 'note term; exit 143' TERM
note start
for ((i = 0; i < ticks; i++)); do
    sleep 0.1
    note tick
done
note end
[ "$kind" = job ] && echo "{\"attempt\": $run, \"host\": \"$PARTITION_HOST\"}"
exit 0
