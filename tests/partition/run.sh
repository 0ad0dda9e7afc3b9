#!/bin/bash
# The partition test: workers on separate network hosts (network namespaces on a bridge) and a
# PostgreSQL cluster of the test's own, faults injected on one host, and an independent checker
# (check_history.py) reading the handlers' history and the final tables. Root only (network
# namespaces); exits 77 when it cannot run here. DESIGN.md "Faults" is what it checks.
#
#   WFQ=build/dev/cli/wfq tests/partition/run.sh [SCENARIO...]
# SCENARIO: FAULT:SEED, FAULT one of cut, freeze, restart, slow, streamcut (jobs), lockcut or
# advcut (locks); default: two or three seeds of each (about 4 minutes).
# PARTITION_MEASURE=1 reports what the checker finds without failing (to measure an old build);
# PARTITION_KEEP=DIR keeps the histories and tables there; PARTITION_LEASE_S (2) and
# PARTITION_TICKS (50: 5 s of work) change the lease and the length of the work.
#
# Faults: "cut" drops every packet of one host silently (a pfifo qdisc of limit 0 on both ends of
# its veth: no error, no reset, as a real partition looks) for 2x the lease, then heals; "freeze"
# stops every process of one host (SIGSTOP: the worker and its handlers, as a paused VM) for 2x
# the lease; "restart" cuts a host for 2x the lease and restarts the database in the middle of
# the cut; "slow" routes one host through a userspace relay over tun devices (relay.py: 50 ms
# +- 20 ms each way and 5% loss each way) from the fault on; "streamcut" is "cut" with stream
# handlers that ignore {"cancel": id} (stream_writer.py), so wfq must stop their process;
# "lockcut" cuts the host whose `wfq lock run` holds the lock, mid-critical-section, and
# "advcut" does the same to `wfq lock run --advisory`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${WFQ:?path to the wfq binary}"
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip > /dev/null && command -v tc > /dev/null || skip "needs iproute2 (ip, tc)"
command -v python3 > /dev/null || skip "needs python3"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || skip "needs a PostgreSQL server (initdb)"
id postgres > /dev/null 2>&1 || skip "needs the postgres user to run its own cluster"

LEASE_S=${PARTITION_LEASE_S:-2}    # --lease and lock --ttl
FAULT_S=$(( 2 * LEASE_S ))           # 2x the lease
TICKS=${PARTITION_TICKS:-50}         # a job (or a critical section) works 5 s (ticks of 0.1 s)
MARGIN=1.0       # M (kFenceStopAfterExpiryMs), seconds
HOSTS=3
n=$(( $$ % 10000 ))
net=10.$(( 200 + (n / 250) % 50 )).$(( n % 250 ))
br=wfqb$n
port=$(( 20000 + n ))
tmp=$(mktemp -d /tmp/wfq-partition-XXXXXX)
chmod 755 "$tmp"

cleanup() {
    set +e
    for p in $(jobs -p); do kill -CONT "$p" 2> /dev/null; kill -KILL "$p" 2> /dev/null; done
    for h in $(seq 1 $HOSTS); do
        for p in $(ip netns pids "wfq-part$n-h$h" 2> /dev/null); do kill -CONT "$p"; kill -KILL "$p"; done 2> /dev/null
        ip netns del "wfq-part$n-h$h" 2> /dev/null
    done
    ip link del "$br" 2> /dev/null
    [ -f "$tmp/pg/postmaster.pid" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop > /dev/null 2>&1
    if [ -n "${PARTITION_KEEP:-}" ]; then mkdir -p "$PARTITION_KEEP" && cp -r "$tmp"/out/. "$PARTITION_KEEP"/ 2> /dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the network: a bridge on this host (the database's), a namespace per worker host ---------
ip link add "$br" type bridge 2> /dev/null || skip "cannot create a bridge here"
# A fixed address: a bridge otherwise takes its ports' lowest, which moves as ports are added
# and would leave the hosts' pinned ARP entries pointing nowhere.
br_mac=$(printf '02:00:00:%02x:%02x:01' $(( n / 256 )) $(( n % 256 )))
ip link set "$br" address "$br_mac"
ip addr add "$net.1/24" dev "$br"
ip link set "$br" up
for h in $(seq 1 $HOSTS); do
    ns=wfq-part$n-h$h
    ip netns add "$ns" || skip "cannot create network namespaces here"
    ip link add "wfqv${n}h$h" type veth peer name eth0 netns "$ns"
    ip link set "wfqv${n}h$h" master "$br" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$net.1$h/24" dev eth0
    ip -n "$ns" link set eth0 up
    # ARP pinned both ways, so a cut host's neighbours never fail over to an ARP error.
    ip -n "$ns" neigh replace "$net.1" lladdr "$br_mac" dev eth0 nud permanent
    ip neigh replace "$net.1$h" lladdr "$(ip -n "$ns" -o link show eth0 | sed -n 's/.*link\/ether \([^ ]*\).*/\1/p')" dev "$br" nud permanent
done
# Silent drops need a qdisc of limit 0: check this kernel has one.
tc qdisc add dev "wfqv${n}h1" root pfifo limit 0 2> /dev/null || skip "no pfifo qdisc in this kernel"
tc qdisc del dev "wfqv${n}h1" root

cut_host() { tc qdisc add dev "wfqv${n}h$1" root pfifo limit 0; ip netns exec "wfq-part$n-h$1" tc qdisc add dev eth0 root pfifo limit 0; }
heal_host() { tc qdisc del dev "wfqv${n}h$1" root; ip netns exec "wfq-part$n-h$1" tc qdisc del dev eth0 root; }
freeze_host() { for p in $(ip netns pids "wfq-part$n-h$1"); do kill -"$2" "$p" 2> /dev/null || true; done; }

# A host slowed down: its traffic to the database goes through relay.py (tun devices, one
# moved into the host's namespace) instead of its veth; the relay's tun devices vanish with it.
relay_pid=""
slow_host() {  # HOST SEED LOG
    local ns=wfq-part$n-h$1 ready=$tmp/relay-ready
    rm -f "$ready"
    python3 "$here/relay.py" "wfqs${n}" "wfqd${n}" --delay-ms 50 --jitter-ms 20 --loss 0.05 --seed "$2" > "$ready" 2> "$3" &
    relay_pid=$!
    wait_until 5 grep -q ready "$ready" || fail "the relay did not start: $(cat "$3")"
    ip link set "wfqs${n}" netns "$ns"
    ip -n "$ns" link set "wfqs${n}" up
    ip -n "$ns" route replace "$net.1/32" dev "wfqs${n}" src "$net.1$1"
    ip link set "wfqd${n}" up
    ip route replace "$net.1$1/32" dev "wfqd${n}"
}
unslow_host() {
    [ -n "$relay_pid" ] || return 0
    kill "$relay_pid" 2> /dev/null || true
    wait "$relay_pid" 2> /dev/null || true
    relay_pid=""
}

# ---- the database: a cluster of the test's own, listening on the bridge ------------------------
chown postgres "$tmp"
runuser -u postgres -- "$pgbin/initdb" -D "$tmp/pg" -U postgres --auth=trust > "$tmp/initdb.log" 2>&1 || fail "initdb: $(tail -3 "$tmp/initdb.log")"
echo "host all all $net.0/24 trust" >> "$tmp/pg/pg_hba.conf"
start_db() {
    # Its own descriptors only: the server must not hold the test runner's pipes.
    (for fd in /proc/self/fd/*; do k=${fd##*/}; [ "$k" -gt 2 ] && eval "exec $k>&-"; done 2> /dev/null
     exec runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w \
        -o "-c listen_addresses=$net.1 -c port=$port -c unix_socket_directories=$tmp -c fsync=off -c max_connections=100" start) > /dev/null \
        || fail "the test's PostgreSQL did not start: $(tail -5 "$tmp/pg.log")"
}
# A crash and a restart: every session ends at once (a fast stop would wait for none either).
restart_db() {
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop > /dev/null 2>&1 || fail "could not stop the test's PostgreSQL"
    start_db
}
start_db
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS WFQ_DB DATABASE_URL || true
export WFQ_DB="postgresql://postgres@$net.1:$port/postgres" WFQ_SCHEMA=partition NO_COLOR=1
sql() { psql -h "$net.1" -p "$port" -U postgres -d postgres -AtXqc "SET search_path TO partition; $1"; }
mkdir -p "$tmp/out"

# wait_until TIMEOUT_S CMD...: polls CMD every 50 ms.
wait_until() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" > /dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}
# Samples the lease expiries the database holds, every 100 ms, until killed.
sample() {
    while :; do
        { sql "SELECT 'job', id::text, attempt::bigint, lease_expires_at FROM jobs WHERE state = 'running' UNION ALL
               SELECT 'lock', key, token, expires_at FROM locks" 2> /dev/null || true; } | tr '|' ' ' >> "$1"
        sleep 0.1
    done
}
# Draws from a seeded sequence: rnd N sets RND to 0..N-1, a new draw each call (not in $(...)).
rnd_state=1
rnd() { rnd_state=$(( (rnd_state * 1103515245 + 12345) % 2147483648 )); RND=$(( (rnd_state / 65536) % $1 )); }

results=()
check() {
    local label=$1; shift
    local out
    set +e
    out=$(python3 "$here/check_history.py" --label "$label" --margin "$MARGIN" ${PARTITION_MEASURE:+--measure} "$@")
    local rc=$?
    set -e
    echo "$out" | sed "s/^/  $label: /"
    results+=("$(echo "$out" | tail -1)")
    [ "$rc" = 0 ] || fail "$label: the checker found a violation (history kept with PARTITION_KEEP=DIR)"
}

jobs_scenario() {  # FAULT SEED
    local fault=$1 seed=$2 label="$1:$2" d="$tmp/out/$1-$2"
    mkdir -p "$d"
    rnd_state=$seed
    sql "DROP SCHEMA IF EXISTS partition CASCADE" > /dev/null 2>&1 || true
    "$WFQ" migrate > /dev/null 2>&1 || fail "migrate: $("$WFQ" migrate 2>&1 | tail -2)"
    for i in $(seq 1 6); do "$WFQ" enqueue part "{\"i\": $i}" > /dev/null; done
    local workers=() handler=(-- "$here/history_writer.sh" job)
    [ "$fault" != streamcut ] || handler=(--stream --procs 1 -- python3 "$here/stream_writer.py")
    for h in $(seq 1 $HOSTS); do
        ip netns exec "wfq-part$n-h$h" env PARTITION_HOST=h$h PARTITION_HISTORY="$d/history" PARTITION_TICKS=$TICKS \
            "$WFQ" process --type part --concurrency 4 --prefetch 0 --lease ${LEASE_S}s --rescue-interval 250ms \
            --poll 200ms --grace 1s "${handler[@]}" 2> "$d/worker-h$h.log" &
        workers+=($!)
    done
    wait_until 30 sh -c "[ \$(cat '$d/history' 2> /dev/null | grep -c '^start') -ge 6 ]" \
        || fail "$label: the jobs did not start: $(sql "SELECT state, count(*) FROM jobs GROUP BY state" | tr '\n' ' ') $(tail -n 3 "$d"/worker-h*.log)"
    sample "$d/samples" &
    local sampler=$!
    # The victim: the host of a running job chosen by the seed (a worker's id holds its pid);
    # the other hosts have free slots to run its jobs once rescued. The fault starts 0-1.9 s later.
    local owner victim=""
    rnd 6
    owner=$(sql "SELECT lease_owner FROM jobs WHERE state = 'running' ORDER BY id OFFSET $RND LIMIT 1")
    for h in $(seq 1 $HOSTS); do case "$owner" in *-${workers[$((h - 1))]}-*) victim=$h ;; esac; done
    [ -n "$victim" ] || fail "$label: no host found for worker '$owner'"
    rnd 20
    sleep "$(( RND / 10 )).$(( RND % 10 ))"
    case $fault in
        cut | streamcut)
            echo "  $label: cut host h$victim for ${FAULT_S}s"
            cut_host $victim
            sleep $FAULT_S  # the fault itself
            heal_host $victim ;;
        freeze)
            echo "  $label: freeze host h$victim for ${FAULT_S}s"
            freeze_host $victim STOP
            sleep $FAULT_S
            freeze_host $victim CONT ;;
        restart)
            echo "  $label: cut host h$victim for ${FAULT_S}s, the database restarted in the middle"
            cut_host $victim
            sleep "$(( FAULT_S / 2 ))"
            restart_db
            sleep "$(( FAULT_S / 2 ))"
            heal_host $victim ;;
        slow)
            # Slow from here to the end: its jobs (and the others' rescues, if any) finish under it.
            echo "  $label: host h$victim slowed (50 ms +- 20 ms each way, 5% loss each way) to the end"
            slow_host $victim "$seed" "$d/relay.log" ;;
    esac
    wait_until 60 sh -c "[ \"\$(psql -h $net.1 -p $port -U postgres -d postgres -AtXqc \"SELECT count(*) FROM partition.jobs WHERE state NOT IN ('completed', 'failed', 'cancelled')\")\" = 0 ]" \
        || fail "$label: jobs not finished 60 s after healing: $(sql "SELECT id, state, attempt, lease_owner FROM jobs WHERE state <> 'completed'")"
    kill "$sampler" 2> /dev/null || true; wait "$sampler" 2> /dev/null || true
    for w in "${workers[@]}"; do kill -TERM "$w" 2> /dev/null || true; done
    for w in "${workers[@]}"; do wait "$w" 2> /dev/null || true; done
    unslow_host
    [ ! -f "$d/relay.log" ] || sed "s/^/  $label /" "$d/relay.log"
    sql "COPY (SELECT id, state, attempt, coalesce(error_class, ''), coalesce(result::text, '') FROM jobs ORDER BY id) TO STDOUT" > "$d/jobs.tsv"
    grep -h -E "self-fencing|riding out|outage over|cancel" "$d"/worker-h*.log | sed "s/^/  $label log: /" | cut -c1-220 | head -6 || true
    check "$label" --history "$d/history" --jobs "$d/jobs.tsv" --samples "$d/samples"
}

lock_scenario() {  # FAULT SEED (lockcut: a lease lock, advcut: an advisory lock)
    local fault=$1 seed=$2 label="$1:$2" d="$tmp/out/$1-$2" advisory=""
    [ "$fault" != advcut ] || advisory=--advisory
    mkdir -p "$d"
    rnd_state=$seed
    sql "DROP SCHEMA IF EXISTS partition CASCADE" > /dev/null 2>&1 || true
    "$WFQ" migrate > /dev/null 2>&1
    local loops=()
    export PARTITION_HISTORY="$d/history" PARTITION_TICKS=$TICKS
    # Each host runs a critical section (5 s) under one lock, waiting for it as long as all take.
    for h in $(seq 1 $HOSTS); do
        ip netns exec "wfq-part$n-h$h" bash -c '
            for k in 1; do
                set +e
                PARTITION_HOST=h'$h'#$k "$0" lock run part-lock '$advisory' --ttl '${LEASE_S}'s --wait '$(( 3 * TICKS / 10 + 20 + FAULT_S ))'s --owner h'$h' -- "$1" lock 2> "$2/lockrun-h'$h'-$k.log"
                code=$?
                echo "h'$h'#$k $code $(tail -1 "$2/lockrun-h'$h'-$k.log")" >> "$2/lock-outcomes"
            done' "$WFQ" "$here/history_writer.sh" "$d" &
        loops+=($!)
    done
    sample "$d/samples" &
    local sampler=$!
    # Cut the first holder 0.2-1.1 s into its critical section (by the seed).
    wait_until 30 sh -c "[ \$(grep -c '^start' '$d/history' 2> /dev/null) -ge 1 ]" || fail "$label: no critical section began"
    rnd 10
    RND=$(( RND + 2 ))
    sleep "$(( RND / 10 )).$(( RND % 10 ))"
    # The holder: the host of the critical section under way (an advisory lock has no row).
    local holder; holder=$(awk '$1 == "start" { h = $5 } END { print h }' "$d/history")
    holder=${holder#h}; holder=${holder%%#*}
    [ -n "$holder" ] || fail "$label: nobody holds the lock"
    echo "  $label: cut host h$holder (the lock's holder) for ${FAULT_S}s"
    cut_host "$holder"
    sleep $FAULT_S
    heal_host "$holder"
    for l in "${loops[@]}"; do wait "$l" || true; done
    kill "$sampler" 2> /dev/null || true; wait "$sampler" 2> /dev/null || true
    sql "COPY (SELECT key, token, expires_at, wfq_now_ms() FROM locks) TO STDOUT" > "$d/locks.tsv"
    sed "s/^/  $label outcome: /" "$d/lock-outcomes" | cut -c1-220
    check "$label" --history "$d/history" --samples "$d/samples" --locks "$d/locks.tsv" --lock-outcomes "$d/lock-outcomes"
}
export PARTITION_HISTORY=/dev/null

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(cut:1 cut:2 cut:3 freeze:1 freeze:2 restart:1 restart:2 slow:1 slow:2
                                         streamcut:1 streamcut:2 lockcut:1 lockcut:2 lockcut:3 advcut:1 advcut:2)
start=$(date +%s)
for s in "${scenarios[@]}"; do
    case "$s" in
        cut:* | freeze:* | restart:* | slow:* | streamcut:*) jobs_scenario "${s%%:*}" "${s#*:}" ;;
        lockcut:* | advcut:*) lock_scenario "${s%%:*}" "${s#*:}" ;;
        *) fail "unknown scenario $s (FAULT:SEED, FAULT cut, freeze, restart, slow, streamcut, lockcut or advcut)" ;;
    esac
done
echo "summary (seconds; M = ${MARGIN}s, lease ${LEASE_S}s, fault ${FAULT_S}s, $(( $(date +%s) - start ))s in all):"
for r in "${results[@]}"; do
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("  %-12s max overlap %.2f  stop delays after expiry %s  work after expiry %s  problems %d" % (d["label"], d["max_overlap_s"], d["stop_delays_s"], d["work_after_expiry_s"], d["problems"]))' "$r"
done
if [ -n "${PARTITION_MEASURE:-}" ]; then echo "measured: ${scenarios[*]} (PARTITION_MEASURE: nothing asserted)"
else echo "ok: partition faults ${scenarios[*]}: the checker's assertions hold"; fi
