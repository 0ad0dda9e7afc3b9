# Usage errors read like every other wfq message: one line on stderr starting "wfq: ", exit 2,
# and a word wfq does not know (a flag, a command) comes with the nearest one it does know.
# wfq-test: backend-independent
. "$(dirname "$0")/lib.sh"

# usage_error WANT ARGS...: exits 2, prints nothing on stdout, and one stderr line that starts
# with "wfq: " and contains WANT.
usage_error() {
    local want=$1; shift
    expect_exit 2 "$WFQ" "$@"
    [ -z "$OUT" ] || fail "wfq $*: stdout: $OUT"
    [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "wfq $*: more than one line on stderr: $ERR"
    case "$ERR" in "wfq: "*) ;; *) fail "wfq $*: no 'wfq: ' prefix: $ERR" ;; esac
    contains "$ERR" "$want"
}

usage_error "unknown flag --prio; did you mean --priority?" enqueue --prio 5 t
usage_error "unknown flag --prio; did you mean --priority?" enqueue t --prio=5
usage_error "(see wfq enqueue --help)" enqueue --prio 5 t
usage_error "unknown flag --untill-empty; did you mean --until-empty?" process --untill-empty --exec true
usage_error "unknown flag --shema; did you mean --schema?" jobs list --shema x  # a global flag, after the command
usage_error "unknown flag --stat; did you mean --state?" jobs retry --stat failed
usage_error "unknown flag --frobnicate" jobs list --frobnicate
case "$ERR" in *"did you mean"*) fail "a suggestion for a word like no flag: $ERR" ;; esac
pass "unknown flags: exit 2, 'wfq: ', the nearest flag of the command or above it (none when nothing is near)"

usage_error "unknown command 'jobs lst'; did you mean 'jobs list'?" jobs lst
usage_error "(see wfq jobs --help)" jobs lst
usage_error "unknown command 'enqeue'; did you mean 'enqueue'?" enqeue t
usage_error "unknown command 'queues pase'; did you mean 'queues pause'?" queues pase mail
usage_error "unknown command 'jobs zzz'; the commands of wfq jobs are list, show, " jobs zzz
usage_error "wfq: jobs needs a command: " jobs
contains "$ERR" "show"
usage_error "wfq: a command is needed: " --db "sqlite:$TMP/x.db"
contains "$ERR" "enqueue"
pass "unknown and missing commands: exit 2, 'wfq: ', the nearest command, or the list"

# Other parser errors keep the parser's words, with the prefix and exit 2.
usage_error "priority" enqueue t --priority high
usage_error "not expected" enqueue t '{}' extra
pass "other parse errors: 'wfq: ' and exit 2"

expect_exit 0 "$WFQ" jobs --help
contains "$OUT" "list"
expect_exit 0 "$WFQ" --version
contains "$OUT" "wfq "
pass "--help and --version still exit 0 on stdout"
