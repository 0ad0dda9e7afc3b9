#!/bin/bash
# What a finished job costs the server: N running jobs in wfq's schema are completed by one psql
# session in statements of B ids, three ways: `update` (today's outcome: the row becomes
# completed, with its result and packed spans), `move` (deleted and inserted into a narrow
# jobs_done table with a primary key and a finished index) and `delete` (graphile-worker's way).
# Prints that backend's wall microseconds per job and WAL bytes per job (full-page images after
# the CHECKPOINT included). The PG* variables name the server; a database of its own per run.
# usage: bench/completion_variants.sh WFQ_BINARY update|move|delete [N [B]]
set -e
WFQ=$1; V=$2; N=${3:-20000}; B=${4:-100}
DB=exp_${V}_$$; createdb $DB
export WFQ_DB=postgresql:///$DB
"$WFQ" migrate >/dev/null 2>&1
python3 -c "
import json
for i in range($N): print(json.dumps({'type': 'noop', 'payload': {'i': i}}))" | "$WFQ" enqueue --ndjson - >/dev/null 2>&1
P="psql -X -q -d $DB -v ON_ERROR_STOP=1"
$P -c "SET search_path=wfq; UPDATE jobs SET state='running', attempt=1, lease_owner='vm-4697-31d25e', lease_expires_at=wfq_now_ms()+60000, started_at=wfq_now_ms(), updated_at=wfq_now_ms();
CREATE TABLE jobs_done (LIKE jobs); ALTER TABLE jobs_done ADD PRIMARY KEY (id); CREATE INDEX ON jobs_done (state, finished_at) INCLUDE (queue, type);
"
$P -c "VACUUM ANALYZE wfq.jobs" -c "CHECKPOINT"
SQL=$(mktemp); trap 'rm -f "$SQL"' EXIT
SP='{"v":1,"tr":"43ab458fd816c28a634df57eb49ba5e8","p":"733f12fdaa0eea88","s":"b706df9373ac9fc0","c":"d1944a46cbded951","t":[1796272158258958199,1796272158277209851,1796272158323458906],"q":"default","ty":"noop","a":1,"w":"vm-4697-31d25e","o":"completed"}'
python3 - $V $N $B "$SP" > "$SQL" <<'PY'
import sys
v,n,b,sp=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),sys.argv[4]
print("SET search_path=wfq;")
for s in range(1,n+1,b):
    ids=",".join(str(i) for i in range(s,min(s+b,n+1)))
    if v=='update':
        print(f"UPDATE jobs SET state='completed', result='{{\"echo\":{{\"i\":1}}}}', spans='{sp}', lease_expires_at=NULL, finished_at=wfq_now_ms(), updated_at=wfq_now_ms() WHERE id = ANY('{{{ids}}}'::bigint[]) AND state='running';")
    elif v=='move':
        print(f"WITH d AS (DELETE FROM jobs WHERE id = ANY('{{{ids}}}'::bigint[]) AND state='running' RETURNING *) INSERT INTO jobs_done SELECT id,type,queue,payload,priority,run_at,'completed',attempt,max_attempts,key,lock_key,org,repo,correlation_id,traceparent,tracestate,lease_owner,NULL,current_stage,last_error,error_class,'{{\"echo\":{{\"i\":1}}}}',wait_event,wait_key,wait_deadline,created_at,wfq_now_ms(),started_at,wfq_now_ms(),wait_spec,signal_data,snoozes,'{sp}',releases,prefetched,limit_keys,held,held_by,grp,turn_lag FROM d;")
    else:
        print(f"DELETE FROM jobs WHERE id = ANY('{{{ids}}}'::bigint[]) AND state='running';")
PY
W0=$($P -Atc "SELECT pg_current_wal_lsn()")
s=$(date +%s%N)
$P -f "$SQL"
e=$(date +%s%N)
W1=$($P -Atc "SELECT pg_current_wal_lsn()")
WAL=$($P -Atc "SELECT pg_wal_lsn_diff('$W1','$W0')")
echo "$V: $(( (e-s)/N/1000 )).$(( (e-s)/N%1000/100 )) us/job wall, WAL $((WAL/N)) B/job, done=$($P -Atc "SELECT count(*) FROM wfq.jobs_done") left=$($P -Atc "SELECT count(*) FROM wfq.jobs WHERE state='running'")"
dropdb $DB
