# Schedules: cron and zone validation (exit 2 naming the field), list/pause/resume/remove, and
# exactly one job per tick with three workers racing: on SQLite the database clock is moved
# (WFQ_TEST_CLOCK_FILE, a test-only hook), on PostgreSQL real time passes one minute boundary
# and further ticks are made due by moving next_run back. After downtime only the latest
# missed tick is enqueued. Jobs carry "schedule" and "scheduled_for" in their payload.
. "$(dirname "$0")/lib.sh"
sql() {
    if [ "$WFQ_TEST_BACKEND" = postgresql ]; then psql -Atqc "SET search_path TO $WFQ_SCHEMA; $1"
    else sqlite3 "${WFQ_DB#sqlite:}" "$1"; fi
}
offset=0
if [ "$WFQ_TEST_BACKEND" = sqlite ]; then
    export WFQ_TEST_CLOCK_FILE=$TMP/clock
    echo 0 > "$WFQ_TEST_CLOCK_FILE"
fi
# Makes the next tick due: SQLite moves the database clock a minute on; PostgreSQL, whose clock
# is the server's, moves the schedule's next_run a minute back instead (the first time, real
# time passes the minute boundary).
advance() {
    if [ "$WFQ_TEST_BACKEND" = sqlite ]; then offset=$((offset + 60000)); echo "$offset" > "$WFQ_TEST_CLOCK_FILE"
    else sql "UPDATE schedules SET next_run = next_run - 60000 WHERE name = 'every-minute'" > /dev/null; fi
}
jobs_of() { "$WFQ" jobs list --type report --limit 1000 --json | jq_field "len(d)"; }
has_jobs() { [ "$(jobs_of)" = "$1" ]; }

expect_exit 2 "$WFQ" schedule add bad --cron "61 * * * *" report
contains "$ERR" "cron minute field: '61' is out of range 0-59"
expect_exit 2 "$WFQ" schedule add bad --cron "* * * jan-foo *" report
contains "$ERR" "cron month field"
expect_exit 2 "$WFQ" schedule add bad --cron "* * * *" report
contains "$ERR" "want five"
expect_exit 2 "$WFQ" schedule add bad --cron "@fortnightly" report
expect_exit 2 "$WFQ" schedule add bad --cron "0 3 * * *" --tz Atlantis/Capital report
contains "$ERR" "--tz: unknown time zone 'Atlantis/Capital'"
expect_exit 2 "$WFQ" schedule add bad report
expect_exit 65 "$WFQ" schedule add bad --cron "@daily" report '[1]'
expect_exit 0 "$WFQ" schedule list --json
[ "$OUT" = "[]" ] || fail "a refused schedule was stored: $OUT"
pass "invalid cron expressions and unknown zones exit 2 naming the field; nothing is stored"

expect_exit 0 "$WFQ" schedule add nightly --cron "30 2 * * *" --tz Europe/Lisbon cleanup --queue maint --json
[ "$(echo "$OUT" | jq_field "(d['tz'], d['queue'], d['paused'])")" = "('Europe/Lisbon', 'maint', False)" ] || fail "add: $OUT"
expect_exit 0 "$WFQ" schedule add every-minute --cron "* * * * *" report '{"k": 1}' --queue reports --priority 5
expect_exit 0 "$WFQ" schedule list
contains "$OUT" "every-minute"
contains "$OUT" "Europe/Lisbon"
# From here on the test moves the clock by minutes and hours: nightly (02:30 Lisbon) would fire
# too whenever the real time is a few hours before it (the downtime step failed between 23:30 and
# 02:30 UTC). It is paused; only every-minute's ticks are counted.
expect_exit 0 "$WFQ" schedule pause nightly
pass "schedule add and list"

for i in 1 2 3; do
    "$WFQ" process --queue reports --exec true 2> "$TMP/w$i.log" &
    eval "w$i=\$!"
done
expected=4
if [ "$WFQ_TEST_BACKEND" = postgresql ]; then
    wait_for 75 has_jobs 1  # the next real minute boundary
    expected=5
else
    advance
    wait_for 20 has_jobs 1
fi
for k in $(seq 2 "$expected"); do
    advance
    wait_for 20 has_jobs "$k"
done
kill -TERM "$w1" "$w2" "$w3"
for i in 1 2 3; do expect_wait 0 "$(eval echo "\$w$i")" "worker $i" "$TMP/w$i.log"; done
[ "$(jobs_of)" = "$expected" ] || fail "$(jobs_of) jobs for $expected ticks with three workers"
fired=$(cat "$TMP"/w?.log | grep -c "schedule enqueued its tick" || true)
[ "$fired" = "$expected" ] || fail "workers logged $fired ticks, want $expected"
"$WFQ" jobs list --type report --limit 1000 --json | jq_field "sorted(set((j['payload']['schedule'], j['payload']['k'], j['queue'], j['priority']) for j in d))" > "$TMP/fields"
[ "$(cat "$TMP/fields")" = "[('every-minute', 1, 'reports', 5)]" ] || fail "job fields: $(cat "$TMP/fields")"
if [ "$WFQ_TEST_BACKEND" = sqlite ]; then
    n=$("$WFQ" jobs list --type report --limit 1000 --json | jq_field "len(set(j['payload']['scheduled_for'] for j in d))")
    [ "$n" = "$expected" ] || fail "$n distinct scheduled_for for $expected ticks"
fi
pass "three workers: exactly one job per tick ($expected ticks), carrying schedule and scheduled_for"

# Downtime: three hours of missed ticks give one job, for the latest.
if [ "$WFQ_TEST_BACKEND" = sqlite ]; then offset=$((offset + 3 * 3600000)); echo "$offset" > "$WFQ_TEST_CLOCK_FILE"
else sql "UPDATE schedules SET next_run = next_run - 3 * 3600000 WHERE name = 'every-minute'" > /dev/null; fi
expect_exit 0 "$WFQ" schedule tick --json
[ "$(echo "$OUT" | jq_field "len(d)")" = 1 ] || fail "tick after downtime: $OUT"
latest=$(echo "$OUT" | jq_field "d[0]['scheduled_for']")
now=$("$WFQ" schedule list --json | jq_field "[s['next_run'] for s in d if s['name'] == 'every-minute'][0]")
python3 -c "
from datetime import datetime, timedelta
f = lambda s: datetime.fromisoformat(s.replace('Z', '+00:00'))
assert f('$now') - f('$latest') == timedelta(minutes=1), ('$latest', '$now')" || fail "the job is not for the latest missed tick ($latest, next $now)"
expect_exit 0 "$WFQ" schedule tick --json
[ "$OUT" = "[]" ] || fail "second tick enqueued again: $OUT"
pass "after downtime only the latest missed tick is enqueued ($latest)"

expect_exit 0 "$WFQ" schedule pause every-minute
advance; advance
expect_exit 0 "$WFQ" schedule tick --json
[ "$OUT" = "[]" ] || fail "a paused schedule fired: $OUT"
expect_exit 0 "$WFQ" schedule list --json
contains "$OUT" '"paused":true'
expect_exit 0 "$WFQ" schedule resume every-minute
expect_exit 0 "$WFQ" schedule tick --json
[ "$OUT" = "[]" ] || fail "resume fired the ticks missed while paused: $OUT"
expect_exit 0 "$WFQ" schedule remove every-minute
expect_exit 4 "$WFQ" schedule remove every-minute
expect_exit 4 "$WFQ" schedule pause every-minute
expect_exit 0 "$WFQ" schedule list --json
[ "$(echo "$OUT" | jq_field "[s['name'] for s in d]")" = "['nightly']" ] || fail "list after remove: $OUT"
pass "pause, resume (missed ticks skipped), remove; unknown names exit 4"

# --key-mode: a tick whose key has a pending job does what enqueue does with that mode.
expect_exit 2 "$WFQ" schedule add deb --cron "* * * * *" digest --key-mode replace
contains "$ERR" "--key-mode needs --key"
expect_exit 2 "$WFQ" schedule add deb --cron "* * * * *" digest --key digest-deb --key-mode often
contains "$ERR" "--key-mode must be keep, replace or preserve-run-at (got 'often')"
expect_exit 0 "$WFQ" schedule add deb --cron "* * * * *" digest --key digest-deb --key-mode replace --json
[ "$(echo "$OUT" | jq_field "d['key_mode']")" = replace ] || fail "add --key-mode: $OUT"
expect_exit 0 "$WFQ" schedule add kept --cron "* * * * *" digest --key digest-kept
expect_exit 0 "$WFQ" schedule list --json
[ "$(echo "$OUT" | jq_field "sorted((s['name'], s['key_mode']) for s in d if s['name'] in ('deb', 'kept'))")" = \
  "[('deb', 'replace'), ('kept', 'keep')]" ] || fail "list --json key_mode: $OUT"
due() {  # makes the schedules named due
    if [ "$WFQ_TEST_BACKEND" = sqlite ]; then offset=$((offset + 60000)); echo "$offset" > "$WFQ_TEST_CLOCK_FILE"
    else for n in "$@"; do sql "UPDATE schedules SET next_run = next_run - 60000 WHERE name = '$n'" > /dev/null; done; fi
}
fired_for() { echo "$1" | jq_field "[f['job_id'] for f in d if f['schedule'] == '$2']"; }
replaced_events() { "$WFQ" jobs show "$1" --json | jq_field "len([e for e in d['events'] if e['kind'] == 'replaced'])"; }
due deb kept
expect_exit 0 "$WFQ" schedule tick --json
first=$OUT
due deb kept
expect_exit 0 "$WFQ" schedule tick --json
deb=$(fired_for "$first" deb); kept=$(fired_for "$first" kept)
[ "$deb" != "[]" ] && [ "$kept" != "[]" ] || fail "the keyed schedules did not fire: $first"
[ "$(fired_for "$OUT" deb)" = "$deb" ] || fail "replace: the second tick made another job: $deb, then $(fired_for "$OUT" deb)"
[ "$(fired_for "$OUT" kept)" = "$kept" ] || fail "keep: the second tick made another job: $kept, then $(fired_for "$OUT" kept)"
deb=${deb//[\[\]]/}; kept=${kept//[\[\]]/}
[ "$(replaced_events "$deb")" = 1 ] || fail "replace: the pending job did not take the second tick"
[ "$(replaced_events "$kept")" = 0 ] || fail "keep: the pending job was changed"
[ "$("$WFQ" jobs list --type digest --json | jq_field 'len(d)')" = 2 ] || fail "two keyed schedules, two ticks: other than 2 jobs"
"$WFQ" schedule remove deb 2> /dev/null
"$WFQ" schedule remove kept 2> /dev/null
pass "schedule add --key-mode: validated as enqueue's; a second tick replaces the pending job (replace) or leaves it (keep)"

# Flow control: --limit and --group on a schedule go on each tick's job, as enqueue's would.
expect_exit 2 "$WFQ" schedule add lim --cron "* * * * *" sync --group ""
contains "$ERR" "--group must not be empty"
expect_exit 2 "$WFQ" schedule add lim --cron "* * * * *" sync --limit "$(python3 -c "print('k' * 201)")"
contains "$ERR" "--limit"
expect_exit 0 "$WFQ" schedule add lim --cron "* * * * *" sync --limit github:42 --limit org:acme --group tenant-7 --json
[ "$(echo "$OUT" | jq_field "(d['limits'], d['group'])")" = "(['github:42', 'org:acme'], 'tenant-7')" ] || fail "add --limit --group: $OUT"
expect_exit 0 "$WFQ" schedule add plain --cron "* * * * *" sync --org acme
expect_exit 0 "$WFQ" schedule list --json
[ "$(echo "$OUT" | jq_field "[(s['limits'], s['group']) for s in d if s['name'] == 'plain']")" = "[([], None)]" ] ||
    fail "list --json: a schedule without limits: $OUT"
"$WFQ" limits set github:42 --concurrency 1 > /dev/null
due lim plain
expect_exit 0 "$WFQ" schedule tick --json
lim=$(fired_for "$OUT" lim); plain=$(fired_for "$OUT" plain)
lim=${lim//[\[\]]/}; plain=${plain//[\[\]]/}
[ -n "$lim" ] && [ -n "$plain" ] || fail "the schedules did not fire: $OUT"
[ "$(job_field "$lim" limits)" = "['github:42', 'org:acme']" ] || fail "the tick's job's limit keys: $(job_field "$lim" limits)"
[ "$(job_field "$lim" group)" = tenant-7 ] || fail "the tick's job's group: $(job_field "$lim" group)"
[ "$(job_field "$plain" group)" = acme ] || fail "a tick's job's group is its org by default: $(job_field "$plain" group)"
"$WFQ" schedule remove lim 2> /dev/null
"$WFQ" schedule remove plain 2> /dev/null
pass "schedule add --limit/--group: validated as enqueue's, shown by list --json, carried by each tick's job"

# Daylight saving, end to end through the tick (SQLite, whose clock the test moves): New York
# springs forward on 8 March 2026 (02:00 EST -> 03:00 EDT), so 02:30 does not exist that day;
# the daily 02:30 job runs once, at the jump (07:00Z), and at 02:30 EDT (06:30Z) the next day.
# It falls back on 1 November 2026: 01:30 happens twice; the 01:30 job runs once (05:30Z).
if [ "$WFQ_TEST_BACKEND" = sqlite ]; then
    clock_at() { python3 -c "
import time, datetime
t = datetime.datetime.fromisoformat('$1'.replace('Z', '+00:00')).timestamp()
print(int((t - time.time()) * 1000))" > "$WFQ_TEST_CLOCK_FILE"; }
    ticks_of() { "$WFQ" schedule tick --json | jq_field "' '.join(f['scheduled_for'] for f in d if f['schedule'] == '$1')"; }
    clock_at 2026-03-07T12:00:00Z
    expect_exit 0 "$WFQ" schedule add spring --cron "30 2 * * *" --tz America/New_York dst
    seen=""
    for at in 2026-03-08T06:50:00Z 2026-03-08T07:01:00Z 2026-03-08T07:35:00Z 2026-03-08T08:10:00Z 2026-03-09T06:31:00Z; do
        clock_at "$at"
        seen="$seen $(ticks_of spring)"
    done
    [ "$(echo $seen)" = "2026-03-08T07:00:00.000Z 2026-03-09T06:30:00.000Z" ] || fail "spring forward ticks: $seen"
    clock_at 2026-10-31T12:00:00Z
    expect_exit 0 "$WFQ" schedule add fall --cron "30 1 * * *" --tz America/New_York dst
    seen=""
    for at in 2026-11-01T05:31:00Z 2026-11-01T06:00:00Z 2026-11-01T06:31:00Z 2026-11-01T07:00:00Z 2026-11-02T06:31:00Z; do
        clock_at "$at"
        seen="$seen $(ticks_of fall)"
    done
    [ "$(echo $seen)" = "2026-11-01T05:30:00.000Z 2026-11-02T06:30:00.000Z" ] || fail "fall back ticks: $seen"
    pass "DST: a daily 02:30 job runs once on the spring-forward day (at the jump), a 01:30 job once on the fall-back day"
fi
