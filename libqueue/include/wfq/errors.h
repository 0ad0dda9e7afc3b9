#pragma once
// One error type for all of libqueue; cli/main.cpp maps its code to an exit code once.
#include <stdexcept>
#include <string>

namespace wfq {

enum class ErrorCode {
    failure,         // 1: anything not listed below
    usage,           // 2: bad argument or flag
    lock_conflict,   // 3: lock not acquired, or not held by that token
    not_found,       // 4: job, lock, config scope
    bad_input,       // 65: invalid JSON, malformed NDJSON line, corrupt state blob
    db_unavailable,  // 69: database unreachable or connection lost: it may come back, so retried
    // 78: bad DSN, schema missing or old, authentication refused, database missing, SQLite path
    // not writable: it will not pass by itself, so never retried
    config,
    interrupted,     // 130: stopped by SIGINT (Ctrl-C), as a shell reports a process killed by it
};

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}
    // An error with nothing left to say: the command has reported it already (or, as for
    // interrupted, there is nothing to report); main only turns it into its exit code.
    explicit Error(ErrorCode code) : std::runtime_error(""), m_code(code) {}
    ErrorCode code() const noexcept { return m_code; }
    // A commit whose outcome could not be learned: retrying it blindly could do it twice.
    bool in_doubt() const noexcept { return m_in_doubt; }
    Error& mark_in_doubt() noexcept {
        m_in_doubt = true;
        return *this;
    }

private:
    ErrorCode m_code;
    bool m_in_doubt = false;
};

// The documented process exit code for an error code.
int exit_code_for(ErrorCode code) noexcept;

// Stable lowercase name of an error code ("not_found"), used in --json error output.
const char* error_code_name(ErrorCode code) noexcept;

}  // namespace wfq
