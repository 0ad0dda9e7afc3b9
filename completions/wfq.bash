# bash completion for wfq. Candidates come from `wfq __complete`, which reads the command tree
# itself (so flags never drift from --help) and, for job ids, lock keys and job types, the
# database (failing silently and fast when it is unreachable).
_wfq() {
    local IFS=$'\n'
    COMPREPLY=($(command "${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _wfq wfq
