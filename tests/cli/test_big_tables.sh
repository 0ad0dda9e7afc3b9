# Reads that stay fast on big tables (migration 6): per-queue counts, top and metrics read index
# ranges, not the whole table, and stay exact on small data; jobs list pages by id (--before);
# past the cap (10,000; lowered here through WFQ_TEST_EXACT_COUNT_CAP) a count is estimated
# and says so (metrics' wfq_jobs_estimated, queues list's and top's ~N and "estimated"), on both
# backends; on PostgreSQL the same at 15,000 rows with the real cap, and the hot tables carry
# autovacuum settings.
. "$(dirname "$0")/lib.sh"

"$WFQ" migrate --status > "$TMP/status"
contains "$(cat "$TMP/status")" "big tables: indexes for reads at millions of finished jobs"
[ "$(awk '$1 == 6' "$TMP/status" | wc -l)" = 1 ] || fail "migration 6 not listed: $(cat "$TMP/status")"
pass "migration 6 applied"

# Small data in every state: 3 completed and 2 failed on queue a, 1 cancelled, 2 due and
# 1 scheduled on queue b.
for i in 1 2 3; do "$WFQ" enqueue --queue a ok '{}' > /dev/null; done
for i in 1 2; do "$WFQ" enqueue --queue a bad '{}' --max-attempts 1 > /dev/null; done
"$WFQ" process --queue a --type ok --until-empty --exec sh -c 'exec cat > /dev/null' 2> "$TMP/w1.log"
"$WFQ" process --queue a --until-empty --type bad --exec sh -c 'exit 3' 2> "$TMP/w2.log"
cancelled=$("$WFQ" enqueue --queue b gone '{}')
"$WFQ" jobs cancel "$cancelled" > /dev/null
due1=$("$WFQ" enqueue --queue b wait '{}')
due2=$("$WFQ" enqueue --queue b wait '{}')
"$WFQ" enqueue --queue b later '{}' --delay 1h > /dev/null

q=$("$WFQ" queues list --json)
echo "$q" | python3 -c "
import json, sys
d = {q['queue']: q for q in json.load(sys.stdin)}
a, b = d['a'], d['b']
assert (a['pending'], a['failed'], a['completed_last_hour'], a['scheduled']) == (0, 2, 3, 0), a
assert (b['pending'], b['scheduled'], b['failed'], b['completed_last_hour']) == (2, 1, 0, 0), b
assert b['oldest_pending_age_ms'] is not None and a['oldest_pending_age_ms'] is None, d
" || fail "queues list counts: $q"
pass "queues list: exact counts per state on small data"

t=$("$WFQ" top --once --json)
echo "$t" | python3 -c "
import json, sys
d = json.load(sys.stdin)
qs = {q['queue']: q for q in d['queues']}
assert qs['a']['completed_last_minute'] == 3 and qs['a']['failed_last_minute'] == 2, qs
assert qs['b']['pending'] == 2, qs
" || fail "top counts: $t"
pass "top --once: last minute's completions and failures per queue"

m=$("$WFQ" metrics)
for line in 'wfq_jobs{state="completed",type="ok",queue="a"} 3' 'wfq_jobs{state="failed",type="bad",queue="a"} 2' \
            'wfq_jobs{state="cancelled",type="gone",queue="b"} 1' 'wfq_jobs{state="pending",type="wait",queue="b"} 2' \
            'wfq_jobs{state="pending",type="later",queue="b"} 1' 'wfq_failed_jobs 2' 'wfq_jobs_completed_estimated 0'; do
    contains "$m" "$line"
done
pass "metrics: exact counts on small data, wfq_jobs_completed_estimated 0"

# Keyset pages: newest first by id, each page before the first id of the one after it.
all=$("$WFQ" jobs list --limit 1000 --json | jq_field "' '.join(str(j['id']) for j in d)")
pages="" before=""
while :; do
    page=$("$WFQ" jobs list --limit 3 ${before:+--before "$before"} --json | jq_field "' '.join(str(j['id']) for j in d)")
    [ -n "$page" ] || break
    pages="$page${pages:+ $pages}"
    before=${page%% *}
done
[ "$pages" = "$all" ] || fail "pages by --before ($pages) differ from the whole list ($all)"
"$WFQ" jobs list --before "$due2" --state pending --json | jq_field "[j['id'] for j in d]" | grep -qx "\[$due1\]" ||
    fail "--before with --state"
expect_exit 2 "$WFQ" jobs list --before -3
pass "jobs list --before: pages by id cover every job once"

# A state of at most the cap (10,000) is read from its own index and sorted by id; a bigger one
# by walking the primary key back. Both ways give the same jobs in the same order: here with a
# cap of 1 (cancelled and a queue's failed under it, the rest over) and with the real one.
ids() { "$WFQ" jobs list "$@" --json | jq_field "' '.join(str(j['id']) for j in d)"; }
for filter in "--state pending" "--state completed" "--state failed" "--state cancelled" "--state waiting" \
              "--state scheduled" "--state retrying" "--state failed --queue a" "--state pending --limit 1" \
              "--state completed --limit 2" "--state pending --before $due2"; do
    sorted=$(ids $filter) walked=$(WFQ_TEST_EXACT_COUNT_CAP=1 ids $filter)
    [ "$sorted" = "$walked" ] || fail "jobs list $filter: $sorted from the state's index, $walked walking the ids"
done
[ "$(ids --state pending)" = "$due1 $due2 $(ids --state scheduled)" ] || fail "--state pending: $(ids --state pending)"
[ "$(ids --state cancelled)" = "$cancelled" ] || fail "--state cancelled: $(ids --state cancelled)"
pass "jobs list by state: the same jobs from the state's index as from the walk over the ids"

# Filters that walked the whole table at 10M rows now read an index or a small table
# (migration 20): a queue no job has ever had lists none at once, an error class from its
# partial index (both backends), the failed jobs of queue a both ways.
[ -z "$(ids --queue nosuch)" ] || fail "--queue nosuch: $(ids --queue nosuch)"
[ "$(ids --queue nosuch --queue b)" = "$(ids --queue b)" ] || fail "--queue nosuch --queue b: $(ids --queue nosuch --queue b)"
[ "$(ids --error-class exit_code)" = "$(ids --state failed)" ] || fail "--error-class exit_code: $(ids --error-class exit_code)"
[ -z "$(ids --error-class timeout)" ] || fail "--error-class timeout: $(ids --error-class timeout)"
# A row inserted by hand (PostgreSQL: naming the table with its schema, no search_path) makes
# its queue known too.
table=jobs
[ "$WFQ_TEST_BACKEND" = postgresql ] && table="\"$WFQ_SCHEMA\".jobs"
row="INSERT INTO $table (type, queue, payload, run_at, state, attempt, max_attempts, correlation_id, created_at, updated_at)
     VALUES ('t', 'by_hand', '{}', 0, 'pending', 0, 3, 'c', 0, 0)"
by_hand() {
    if [ "$WFQ_TEST_BACKEND" = postgresql ]; then psql -XAtq -v ON_ERROR_STOP=1 -c "$1"
    else sqlite3 "${WFQ_DB#sqlite:}" "$1"; fi
}
by_hand "$row"
[ -n "$(ids --queue by_hand)" ] || fail "--queue by_hand: none"
by_hand "DELETE FROM $table WHERE queue = 'by_hand'"
pass "jobs list --queue for a queue no job has, --error-class: from job_queues and jobs_error_class"

# Past the cap (10,000; WFQ_TEST_EXACT_COUNT_CAP, a test-only hook, lowers it) a count stops
# and is estimated from a sample of the table, and says so; at the cap it is exact. On both
# backends, for each place the code decides: per queue for pending jobs (queues list, top), per
# state for metrics and for failed jobs.
sql() {
    if [ "$WFQ_TEST_BACKEND" = postgresql ]; then psql -XAtq -v ON_ERROR_STOP=1 -c "SET search_path TO \"$WFQ_SCHEMA\"; $1"
    else sqlite3 "${WFQ_DB#sqlite:}" "$1"; fi
}
insert_jobs() {  # insert_jobs N QUEUE STATE RUN_AT_MS: N jobs straight into the table
    python3 -c "
import sys
n, queue, state, run_at = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
fin = 'NULL' if state == 'pending' else str(run_at)
rows = ',\n'.join(f\"('t', '{queue}', '{{}}', {run_at + i}, '{state}', 1, 3, 'c', {run_at}, {run_at}, {fin})\" for i in range(n))
print('INSERT INTO jobs (type, queue, payload, run_at, state, attempt, max_attempts, correlation_id, created_at, updated_at, finished_at) VALUES ' + rows)
" "$@" > "$TMP/insert.sql"
    sql "$(cat "$TMP/insert.sql")"
}
estimated() {  # estimated COMMAND...: "queue:field,field queue:..." from --json's estimated lists
    "$@" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
qs = d['queues'] if isinstance(d, dict) else d
print(' '.join(q['queue'] + ':' + ','.join(q['estimated']) for q in qs))"
}
export WFQ_TEST_EXACT_COUNT_CAP=50
now_ms=$(date +%s%3N)
hour_ago=$((now_ms - 3600000))
insert_jobs 50 edge pending "$hour_ago"
[ "$(estimated "$WFQ" queues list)" = "a: b: edge:" ] || fail "at the cap, every count exact: $(estimated "$WFQ" queues list)"
m=$("$WFQ" metrics)
for st in cancelled completed failed pending; do contains "$m" "wfq_jobs_estimated{state=\"$st\"} 0"; done
contains "$m" 'wfq_jobs{state="pending",type="t",queue="edge"} 50'
pass "50 pending jobs at a cap of 50: exact in queues list and metrics"

insert_jobs 1 edge pending "$((now_ms + 3600000))"   # one more, scheduled: past the cap
q=$("$WFQ" queues list --json)
echo "$q" | python3 -c "
import json, sys
d = {q['queue']: q for q in json.load(sys.stdin)}
e, b = d['edge'], d['b']
assert e['estimated'] == ['pending', 'scheduled'] and b['estimated'] == [], d
assert 45 <= e['pending'] <= 55 and e['pending'] + e['scheduled'] >= 51, e   # a sample of the whole table: exact here
assert (b['pending'], b['scheduled']) == (2, 1), b
age = e['oldest_pending_age_ms']
assert 3600000 <= age < 3600000 + 120000, e   # exact, from the claim index
" || fail "queues list past the cap: $q"
"$WFQ" queues list | grep -E '^edge +~[0-9]+ +~[0-9]+ ' > /dev/null || fail "queues list shows no ~: $("$WFQ" queues list)"
[ "$(estimated "$WFQ" top --once)" = "a: b: edge:pending,scheduled" ] || fail "top: $(estimated "$WFQ" top --once)"
"$WFQ" top --once | grep -q 'pending ~' || fail "top's summary line: $("$WFQ" top --once | head -1)"
m=$("$WFQ" metrics)
contains "$m" 'wfq_jobs_estimated{state="pending"} 1'
for st in cancelled completed failed; do contains "$m" "wfq_jobs_estimated{state=\"$st\"} 0"; done
contains "$m" 'wfq_jobs{state="failed",type="bad",queue="a"} 2'
age=$(echo "$m" | sed -n 's/^wfq_oldest_pending_job_age_seconds //p')
python3 -c "import sys; a = float(sys.argv[1]); assert 3600 <= a < 3720, a" "$age" || fail "oldest due age past the cap: $age"
pass "51 pending jobs in one queue: its pending and scheduled estimated (~) in queues list and top, the other queue exact; metrics labels pending; the oldest due age exact"

insert_jobs 60 dead failed "$hour_ago"
q=$("$WFQ" queues list --json)
echo "$q" | python3 -c "
import json, sys
d = {q['queue']: q for q in json.load(sys.stdin)}
assert all('failed' in q['estimated'] for q in d.values()), d
assert 55 <= d['dead']['failed'] <= 65 and d['a']['failed'] <= 5, d
" || fail "queues list past the failed cap: $q"
m=$("$WFQ" metrics)
contains "$m" 'wfq_jobs_estimated{state="failed"} 1'
contains "$m" 'wfq_jobs_estimated{state="completed"} 0'
pass "62 failed jobs: every queue's failed count estimated, and metrics' failed"

sql "DELETE FROM jobs WHERE queue IN ('edge', 'dead')"
[ "$(estimated "$WFQ" queues list)" = "a: b:" ] || fail "after the delete: $(estimated "$WFQ" queues list)"
m=$("$WFQ" metrics)
for st in cancelled completed failed pending; do contains "$m" "wfq_jobs_estimated{state=\"$st\"} 0"; done
contains "$m" 'wfq_failed_jobs 2'
unset WFQ_TEST_EXACT_COUNT_CAP
pass "back under the cap: every count exact again, the labels gone"

# --older-than and --newer-than (by updated_at) walk an index led by id (migration 22; SQLite's
# carries created_at, which a job's update never precedes): the same jobs, newest id first, as
# the table says (each page oldest first, as `jobs list` prints it), when ids and update times
# disagree. A job of its own queue fails; every job so far is
# aged two hours; then that job is retried (updated now, not the newest id), and the newest id
# goes to a job created three hours ago and updated two hours ago (ids grow with time only
# roughly). Both are deleted after.
aged=$("$WFQ" enqueue --queue aging bad '{}' --max-attempts 1)
"$WFQ" enqueue --queue aging ok '{}' > /dev/null
"$WFQ" process --queue aging --until-empty --type bad --exec sh -c 'exit 3' 2> "$TMP/w3.log"
sql "UPDATE jobs SET created_at = created_at - 7200000, updated_at = updated_at - 7200000"
"$WFQ" jobs retry "$aged" > /dev/null
now_ms=$(date +%s%3N)
sql "INSERT INTO jobs (type, queue, payload, run_at, state, attempt, max_attempts, correlation_id, created_at, updated_at,
     finished_at) VALUES ('t', 'aging', '{}', $((now_ms - 10800000)), 'completed', 1, 3, 'c', $((now_ms - 10800000)),
     $((now_ms - 7200000)), $((now_ms - 7200000)))"
late=$(sql "SELECT MAX(id) FROM jobs")
table_ids() { sql "SELECT id FROM jobs WHERE $1 ORDER BY id" | tr '\n' ' ' | sed 's/ $//'; }
old=$(table_ids "updated_at < $now_ms - 3600000")
new=$(table_ids "updated_at >= $now_ms - 3600000")
case " $old " in *" $late "*) ;; *) fail "the test's newest job is not among the old ones: $old" ;; esac
[ "$new" = "$aged" ] || fail "only the retried job is newer than an hour: $new"
[ "$(ids --older-than 1h --limit 0)" = "$old" ] || fail "--older-than 1h: $(ids --older-than 1h --limit 0), the table: $old"
[ "$(ids --newer-than 1h)" = "$new" ] || fail "--newer-than 1h: $(ids --newer-than 1h), the table: $new"
[ "$(ids --older-than 1h --limit 1)" = "$late" ] || fail "--older-than 1h --limit 1: $(ids --older-than 1h --limit 1)"
pages="" before=""
while :; do
    page=$(ids --older-than 1h --limit 2 ${before:+--before "$before"})
    [ -n "$page" ] || break
    pages="$page${pages:+ $pages}"
    before=${page%% *}
done
[ "$pages" = "$old" ] || fail "--older-than 1h by pages of 2: $pages, the table: $old"
[ -z "$(ids --older-than 4h)" ] || fail "--older-than 4h: $(ids --older-than 4h)"
[ "$(ids --older-than 1h --type t)" = "$(table_ids "updated_at < $now_ms - 3600000 AND type = 't'")" ] ||
    fail "--older-than 1h --type t: $(ids --older-than 1h --type t)"
[ "$(ids --older-than 1h --state failed)" = "$(table_ids "updated_at < $now_ms - 3600000 AND state = 'failed'")" ] ||
    fail "--older-than 1h --state failed: $(ids --older-than 1h --state failed)"
sql "DELETE FROM jobs WHERE queue = 'aging'"
pass "jobs list --older-than/--newer-than: the table's jobs newest id first, a retried old job and a late id among them"

if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    opts=$(psql -XAtc "SELECT reloptions FROM pg_class WHERE oid = '\"$WFQ_SCHEMA\".jobs'::regclass")
    contains "$opts" "autovacuum_vacuum_scale_factor=0.02"
    contains "$opts" "fillfactor=90"
    pass "the jobs table carries migration 6's autovacuum settings: $opts"

    # 15,000 completed jobs of two types straight from SQL (past the cap of 10,000), then the planner's statistics.
    psql -Xq -v ON_ERROR_STOP=1 -c "SET search_path TO \"$WFQ_SCHEMA\";
        INSERT INTO jobs (type, queue, payload, run_at, state, attempt, max_attempts, correlation_id,
                          created_at, updated_at, started_at, finished_at)
        SELECT CASE WHEN i % 3 = 0 THEN 'x' ELSE 'y' END, 'big', '{}', 1, 'completed', 1, 3, 'c', 1, 1, 1, 1
        FROM generate_series(1, 15000) i; ANALYZE jobs;"
    m=$("$WFQ" metrics)
    contains "$m" "wfq_jobs_completed_estimated 1"
    contains "$m" 'state="completed" is an estimate while wfq_jobs_completed_estimated is 1'
    for line in 'wfq_jobs{state="failed",type="bad",queue="a"} 2' 'wfq_jobs{state="cancelled",type="gone",queue="b"} 1' \
                'wfq_jobs{state="pending",type="wait",queue="b"} 2' 'wfq_failed_jobs 2'; do
        contains "$m" "$line"
    done
    echo "$m" | python3 -c "
import re, sys
c = {}
for line in sys.stdin:
    g = re.match(r'wfq_jobs\{state=\"completed\",type=\"(\w+)\",queue=\"big\"\} (\d+)', line)
    if g: c[g.group(1)] = int(g.group(2))
assert abs(c['x'] - 5000) < 1000 and abs(c['y'] - 10000) < 1500, c
" || fail "completed estimates far from 5,000 and 10,000: $(echo "$m" | grep completed)"
    contains "$m" 'wfq_jobs_estimated{state="completed"} 1'
    for st in cancelled failed pending; do contains "$m" "wfq_jobs_estimated{state=\"$st\"} 0"; done
    pass "metrics past 10,000 completed jobs: completed counts estimated and labelled, the other states exact"
    q=$("$WFQ" queues list --json)
    echo "$q" | python3 -c "
import json, sys
d = {q['queue']: q for q in json.load(sys.stdin)}
assert d['a']['failed'] == 2 and d['b']['pending'] == 2 and d['b']['scheduled'] == 1, d
assert 'big' not in d, d   # finished long ago: not in the last hour, nothing active
" || fail "queues list on the big table: $q"
    pass "queues list on a bigger table: still exact"

    # A bulk cancel of a runaway backlog: 12,000 cancelled jobs are estimated (a count that
    # stops at 10,001 says so) and labelled; the failed ones stay exact.
    psql -Xq -v ON_ERROR_STOP=1 -c "SET search_path TO \"$WFQ_SCHEMA\";
        INSERT INTO jobs (type, queue, payload, run_at, state, attempt, max_attempts, correlation_id,
                          created_at, updated_at, started_at, finished_at)
        SELECT 'runaway', 'big', '{}', 1, 'cancelled', 1, 3, 'c', 1, 1, 1, 1 FROM generate_series(1, 12000) i; ANALYZE jobs;"
    m=$("$WFQ" metrics)
    contains "$m" 'wfq_jobs_estimated{state="cancelled"} 1'
    contains "$m" 'wfq_jobs_estimated{state="failed"} 0'
    for line in 'wfq_jobs{state="failed",type="bad",queue="a"} 2' 'wfq_failed_jobs 2'; do contains "$m" "$line"; done
    n=$(echo "$m" | sed -n 's/^wfq_jobs{state="cancelled",type="runaway",queue="big"} //p')
    [ -n "$n" ] && [ "$n" -gt 10000 ] && [ "$n" -lt 14000 ] || fail "cancelled estimate far from 12,000: $n"
    pass "metrics after a bulk cancel of 12,000: cancelled estimated ($n) and labelled, failed exact"

    # JIT: with this table analyzed, the planner prices a claim by the whole table and past
    # jit_above_cost would compile each one (200 ms a claim at 200,000 pending jobs). wfq's
    # sessions turn it off; doctor reads the setting through wfq's own session.
    [ "$(psql -XAtc 'SHOW jit')" = on ] || echo "note: this server has jit off by default" >&2
    "$WFQ" doctor --json > "$TMP/doctor.json" || true
    jq_field "[f['message'] for f in d if f['check'] == 'session_jit']" < "$TMP/doctor.json" | grep -qx "\['session_jit = 0'\]" ||
        fail "doctor's session_jit: $(cat "$TMP/doctor.json")"
    pass "JIT is off in wfq's PostgreSQL session (doctor: session_jit = 0)"

    # A backlog of 100,000 due jobs in two queues, analyzed: each claim must read its batch in
    # order from the claim index, never the whole backlog (by a table scan or a bitmap scan of
    # the index, then a sort: 190 ms a claim at 200,000), for a worker on one queue and for one
    # on both (each queue's first jobs from the index, not `queue IN (...)` sorted).
    psql -Xq -v ON_ERROR_STOP=1 -c "SET search_path TO \"$WFQ_SCHEMA\";
        INSERT INTO jobs (type, queue, payload, run_at, state, attempt, max_attempts, correlation_id, created_at, updated_at)
        SELECT 'due', 'backlog' || (i % 2), '{}', i, 'pending', 0, 3, 'c', 1, 1 FROM generate_series(1, 100000) i;
        INSERT INTO jobs (type, queue, payload, run_at, state, attempt, max_attempts, correlation_id, created_at, updated_at, priority)
        SELECT 'later', 'later', '{}', wfq_now_ms() + 3600000 + i, 'pending', 0, 3, 'c', 1, 1, i % 3 FROM generate_series(1, 50000) i;
        ANALYZE jobs;"
    rows_read() { psql -XAtc "SELECT pg_stat_clear_snapshot(); SELECT t.seq_tup_read + (SELECT sum(i.idx_tup_read) FROM pg_stat_user_indexes i
        WHERE i.relid = t.relid) FROM pg_stat_user_tables t WHERE t.relid = '\"$WFQ_SCHEMA\".jobs'::regclass" | tail -1; }
    completed() {  # completed QUEUE-PATTERN (LIKE; default: both backlog queues)
        psql -XAtc "SELECT count(*) FROM \"$WFQ_SCHEMA\".jobs WHERE queue LIKE '${1:-backlog_}' AND state = 'completed'"
    }
    before=$(rows_read)
    "$WFQ" process --queue backlog0 --max-jobs 300 --concurrency 4 --exec true 2> "$TMP/backlog.log"
    one=$(( $(rows_read) - before ))
    [ "$(completed)" = 300 ] || fail "300 backlog jobs should be completed: $(tail -3 "$TMP/backlog.log")"
    before=$(rows_read)
    "$WFQ" process --queue backlog0 --queue backlog1 --max-jobs 300 --concurrency 4 --exec true 2> "$TMP/backlog.log"
    two=$(( $(rows_read) - before ))
    [ "$(completed)" = 600 ] || fail "600 backlog jobs should be completed: $(tail -3 "$TMP/backlog.log")"
    # One of the two queues paused: its 50,000 jobs are not read, claim after claim.
    "$WFQ" queues pause backlog1 > /dev/null
    done1_before=$(completed backlog1)
    before=$(rows_read)
    "$WFQ" process --queue backlog0 --queue backlog1 --max-jobs 300 --concurrency 4 --exec true 2> "$TMP/backlog.log"
    paused=$(( $(rows_read) - before ))
    [ "$(completed)" = 900 ] || fail "900 backlog jobs should be completed: $(tail -3 "$TMP/backlog.log")"
    [ "$(completed backlog1)" = "$done1_before" ] || fail "jobs of the paused queue ran: $done1_before before, $(completed backlog1) after"
    for n in "$one" "$two" "$paused"; do
        [ "$n" -lt 50000 ] || fail "claims read the whole backlog: $one rows on one queue, $two on two, $paused beside a paused one"
    done
    # An idle worker over 50,000 jobs not yet due (backing off, or scheduled; three priorities)
    # asks at each poll when the next one is due: one index step per priority, not a read of
    # every job (ten polls read 494,292 rows that way).
    before=$(rows_read)
    "$WFQ" process --queue later --poll 100ms --max-time 1s --exec true 2> "$TMP/idle.log"
    idle=$(( $(rows_read) - before ))
    [ "$idle" -lt 25000 ] || fail "an idle worker read $idle rows in 1 s of 100 ms polls over a backlog not yet due"
    psql -Xq -c "DELETE FROM \"$WFQ_SCHEMA\".jobs WHERE queue LIKE 'backlog_' OR queue = 'later'; DELETE FROM \"$WFQ_SCHEMA\".queue_pauses"
    pass "300 jobs claimed from an analyzed backlog of 100,000 read $one rows on one queue, $two on two, $paused beside a paused one; an idle worker polling over 50,000 jobs not yet due read $idle in 1 s"
fi
