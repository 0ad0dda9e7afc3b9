#pragma once
// Runs a handler command directly (no shell) with its stdin, stdout and stderr on pipes,
// a timeout, and cancellation. The child dies with its worker (PR_SET_PDEATHSIG), and so do
// the processes it starts once the handler watchdog runs.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace wfq {

struct ProcessSpec {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // "KEY=VALUE", the whole environment (after base_env, if set)
    // Shared entries that come before env, not copied per process (it must outlive the run;
    // no name in it may repeat one in env).
    const std::vector<std::string>* base_env = nullptr;
    std::string stdin_data;
    std::int64_t timeout_ms = 0;        // 0: none
    std::int64_t kill_grace_ms = 5000;  // SIGTERM, then SIGKILL after this
    std::size_t stdout_cap = 1 << 20;
    std::size_t stderr_tail_cap = 4096;
    std::size_t stderr_line_cap = 8192;  // a longer line (or one without a newline) is logged in pieces
    std::function<void(const std::string&)> on_stderr_line;
    const std::atomic<bool>* cancel = nullptr;  // set: stop the command (SIGTERM, then SIGKILL)
    // Share our stdin/stdout/stderr instead of pipes (stdin_data and the captures are unused),
    // and stay in our process group so a terminal's Ctrl-C reaches the command too.
    bool inherit_stdio = false;
};

struct ProcessResult {
    int exit_code = -1;   // when it exited
    int term_signal = 0;  // when a signal killed it
    bool timed_out = false, cancelled = false, spawn_failed = false, stdout_truncated = false;
    std::string stdout_data, spawn_error;
    std::string stderr_tail;  // its last stderr_tail_cap bytes, as valid UTF-8 (U+FFFD for bad bytes and NUL)
    std::int64_t pid = 0;
};

ProcessResult run_process(const ProcessSpec& spec);

// "signal 9 (SIGKILL)": how logs and timelines name a signal that ended a process.
std::string describe_signal(int sig);

// A long-lived child with its stdin, stdout and stderr on pipes (our ends close-on-exec and
// non-blocking), in a process group of its own, dying with us. pid is 0 and error says why
// when it could not be started.
struct SpawnedProcess {
    int pid = 0;
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
    std::string error;
};
SpawnedProcess spawn_process(const std::vector<std::string>& argv, const std::vector<std::string>& env);

// Starts, once per process, a watchdog process that SIGKILLs the process groups of the
// handlers still running when this process ends, even by SIGKILL: PR_SET_PDEATHSIG reaches a
// handler but not the processes it started (`sh -c 'sleep 60 & wait'`). Call it before
// starting threads; run_process and spawn_process then register their children's groups.
void start_handler_watchdog();
// The watchdog forgets a group (its leader exited and is about to be reaped).
void forget_process_group(int pgid);

// This machine's host name (for worker ids and lock owners).
std::string host_name();

// Names the calling thread (at most 15 bytes show), so `top -H` and `ps -L` tell the worker's
// threads apart: wfq-claim, wfq-exec, wfq-complete, wfq-keeper, ...
void name_this_thread(const char* name);
// Adds n to the calling thread's nice value (Linux: each thread has its own).
void set_this_thread_nice(int n);

// The current environment as "KEY=VALUE" strings, minus the names in drop.
std::vector<std::string> current_environment(const std::vector<std::string>& drop = {});

}  // namespace wfq
