# fish completion for wfq. Candidates come from `wfq __complete` (see wfq.bash).
function __wfq_complete
    set -l tokens (commandline -opc)
    command $tokens[1] __complete -- $tokens[2..-1] (commandline -ct) 2>/dev/null
end
complete -c wfq -f -a '(__wfq_complete)'
