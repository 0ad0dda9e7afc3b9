#include <wfq/process_runner.h>
#include <wfq/text.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdint>
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <algorithm>
#include <atomic>
#include <new>
#include <mutex>
#include <utility>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace wfq {
namespace {

std::int64_t steady_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// Our ends of the pipes only: they come from pipe2 with no status flag set, so one F_SETFL
// does (the child's ends stay blocking, as commands expect of their stdio).
void set_nonblocking(int fd) {
    if (fd < 0) return;
    fcntl(fd, F_SETFL, O_NONBLOCK);
}

struct Pipe {
    int fd[2] = {-1, -1};
    void make() {
        if (pipe2(fd, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    static void close_fd(int& f) {
        if (f >= 0) ::close(f);
        f = -1;
    }
    ~Pipe() {
        close_fd(fd[0]);
        close_fd(fd[1]);
    }
};

// The handler groups the watchdog kills when we end: a table in memory shared with the
// watchdog process, so that starting and reaping a handler costs no system call and no
// wake-up of the watchdog (it was two pipe writes per job). A slot holds a group id, or 0.
// The watchdog reads the table only once our end of its pipe closes.
constexpr std::size_t kWatchSlots = 16384;
struct WatchTable {
    std::atomic<std::int32_t> used;  // slots [0, used) may hold groups
    std::atomic<std::int32_t> slot[kWatchSlots];
};
static_assert(std::atomic<std::int32_t>::is_always_lock_free, "the watchdog reads the table from another process");
WatchTable* g_watch = nullptr;  // set once the watchdog runs
int g_watchdog_fd = -1;         // our end of the watchdog's pipe, held open until we end

std::mutex g_watch_mutex;  // among our threads; the watchdog only reads, after we are gone

void watch_group(std::int32_t pgid) {
    if (!g_watch) return;
    std::lock_guard<std::mutex> lock(g_watch_mutex);
    std::int32_t used = g_watch->used.load(std::memory_order_relaxed);
    for (std::int32_t i = 0; i < used; ++i)
        if (g_watch->slot[i].load(std::memory_order_relaxed) == 0) {
            g_watch->slot[i].store(pgid, std::memory_order_release);
            return;
        }
    if (used >= static_cast<std::int32_t>(kWatchSlots)) return;  // full: PR_SET_PDEATHSIG still stops the handler
    g_watch->slot[used].store(pgid, std::memory_order_release);
    g_watch->used.store(used + 1, std::memory_order_release);
}

void unwatch_group(std::int32_t pgid) {
    if (!g_watch) return;
    std::lock_guard<std::mutex> lock(g_watch_mutex);
    std::int32_t used = g_watch->used.load(std::memory_order_relaxed);
    for (std::int32_t i = 0; i < used; ++i)
        if (g_watch->slot[i].load(std::memory_order_relaxed) == pgid) {
            g_watch->slot[i].store(0, std::memory_order_release);
            break;
        }
    // Shrink the range over free slots at its end, so scans stay as short as the most
    // handlers ever running at once.
    while (used > 0 && g_watch->slot[used - 1].load(std::memory_order_relaxed) == 0) --used;
    g_watch->used.store(used, std::memory_order_release);
}

// Starts argv with envp, its stdin/stdout/stderr dup'ed from in/out/err (-1: inherit ours),
// in a group of its own unless same_group. vfork: the child borrows our memory until exec, so
// it makes system calls only; signals stay blocked in between so that none of our handlers runs
// in it. Returns the pid, or 0 with error set.
pid_t start_child(char* const* argv, char* const* envp, int in, int out, int err, bool same_group, std::string& error) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    volatile int exec_errno = 0;
    pid_t parent = getpid();
    pid_t pid = vfork();
    if (pid == 0) {
        if (!same_group) setpgid(0, 0);  // its own group, so a timeout stops `sh -c` children too
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);  // the worker died before prctl took effect
        struct sigaction dfl {}, cur {};
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &dfl, nullptr);  // we ignore it; commands expect the default
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2})  // ours would run in our memory
            if (sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler != SIG_IGN && cur.sa_handler != SIG_DFL)
                sigaction(sig, &dfl, nullptr);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        if (in >= 0) dup2(in, 0);
        if (out >= 0) dup2(out, 1);
        if (err >= 0) dup2(err, 2);
        execvpe(argv[0], argv, envp);
        exec_errno = errno;
        _exit(127);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) {
        error = std::string("vfork: ") + std::strerror(fork_errno);
        return 0;
    }
    if (exec_errno != 0) {
        waitpid(pid, nullptr, 0);
        error = "cannot execute '" + std::string(argv[0]) + "': " + std::strerror(exec_errno);
        return 0;
    }
    if (!same_group) watch_group(pid);
    return pid;
}

}  // namespace

void forget_process_group(int pgid) { unwatch_group(pgid); }

void start_handler_watchdog() {
    static std::once_flag once;
    std::call_once(once, [] {
        void* mem = mmap(nullptr, sizeof(WatchTable), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) return;
        auto* table = new (mem) WatchTable();  // zeroed by the kernel; placement-new for the atomics' lifetime
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            munmap(mem, sizeof(WatchTable));
            return;
        }
        pid_t pid = fork();
        if (pid < 0) {
            ::close(fds[0]);
            ::close(fds[1]);
            munmap(mem, sizeof(WatchTable));
            return;
        }
        if (pid == 0) {
            // The watchdog: system calls only (forked from a process that may have threads).
            // It holds no copy of our other descriptors, outlives us, and ignores the signals
            // a terminal or a service manager sends the whole group; EOF on the pipe means we
            // are gone, by exit or by SIGKILL. Then the table holds the groups still running.
            int rfd = fds[0];
            for (int fd = 3; fd < 4096; ++fd)
                if (fd != rfd) ::close(fd);
            struct sigaction ign {};
            ign.sa_handler = SIG_IGN;
            for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) sigaction(sig, &ign, nullptr);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
            prctl(PR_SET_NAME, "wfq-watchdog");
            char buf[64];
            for (;;) {
                ssize_t n = read(rfd, buf, sizeof buf);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
            }
            std::int32_t used = table->used.load(std::memory_order_acquire);
            for (std::int32_t i = 0; i < used && i < static_cast<std::int32_t>(kWatchSlots); ++i)
                if (std::int32_t g = table->slot[i].load(std::memory_order_acquire); g > 0) kill(-g, SIGKILL);
            _exit(0);
        }
        ::close(fds[0]);
        g_watchdog_fd = fds[1];
        g_watch = table;
    });
}

SpawnedProcess spawn_process(const std::vector<std::string>& argv_s, const std::vector<std::string>& env) {
    SpawnedProcess p;
    if (argv_s.empty()) {
        p.error = "empty command";
        return p;
    }
    Pipe in, out, err;
    in.make();
    out.make();
    err.make();
    std::vector<char*> argv, envp;
    for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = start_child(argv.data(), envp.data(), in.fd[0], out.fd[1], err.fd[1], false, p.error);
    if (!pid) return p;
    p.pid = pid;
    set_nonblocking(in.fd[1]);
    set_nonblocking(out.fd[0]);
    set_nonblocking(err.fd[0]);
    p.stdin_fd = std::exchange(in.fd[1], -1);
    p.stdout_fd = std::exchange(out.fd[0], -1);
    p.stderr_fd = std::exchange(err.fd[0], -1);
    return p;
}

std::string host_name() {
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    return host;
}

void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

void set_this_thread_nice(int n) {
    const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(19, now + n));
}

std::vector<std::string> current_environment(const std::vector<std::string>& drop) {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) {
        std::string kv = *e;
        std::string name = kv.substr(0, kv.find('='));
        bool skip = false;
        for (const auto& d : drop) skip = skip || d == name;
        if (!skip) out.push_back(std::move(kv));
    }
    return out;
}

ProcessResult run_process(const ProcessSpec& spec) {
    ProcessResult result;
    if (spec.argv.empty()) {
        result.spawn_failed = true;
        result.spawn_error = "empty command";
        return result;
    }
    Pipe in, out, err;
    std::size_t written = 0;
    if (!spec.inherit_stdio) {
        in.make();
        out.make();
        err.make();
        // The payload goes into the empty pipe before the command starts: all of it when it
        // fits (64 KiB), and then our end closes at once, so the loop below never waits to
        // write. The rest, if any, is written as the command reads.
        set_nonblocking(in.fd[1]);
        while (written < spec.stdin_data.size()) {
            ssize_t w = write(in.fd[1], spec.stdin_data.data() + written, spec.stdin_data.size() - written);
            if (w <= 0) break;
            written += static_cast<std::size_t>(w);
        }
        if (written >= spec.stdin_data.size()) Pipe::close_fd(in.fd[1]);
    }

    std::vector<char*> argv, envp;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    envp.reserve((spec.base_env ? spec.base_env->size() : 0) + spec.env.size() + 1);
    if (spec.base_env)
        for (const auto& e : *spec.base_env) envp.push_back(const_cast<char*>(e.c_str()));
    for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    pid_t pid = start_child(argv.data(), envp.data(), in.fd[0], out.fd[1], err.fd[1], spec.inherit_stdio, result.spawn_error);
    if (!pid) {
        result.spawn_failed = true;
        return result;
    }
    result.pid = pid;
    Pipe::close_fd(in.fd[0]);
    Pipe::close_fd(out.fd[1]);
    Pipe::close_fd(err.fd[1]);

    if (spec.inherit_stdio) {
        Pipe::close_fd(in.fd[1]);
        Pipe::close_fd(out.fd[0]);
        Pipe::close_fd(err.fd[0]);
    }
    // A pidfd becomes readable when the child exits, so poll() sees the exit at once.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    set_nonblocking(out.fd[0]);
    set_nonblocking(err.fd[0]);
    // Whether the child may have exited: always without a pidfd; with one, once it is
    // readable (checked first thing anyway, for a command that is already gone).
    bool may_have_exited = true;

    std::string stderr_line;
    bool stderr_cut = false;  // the tail lost its beginning to the cap
    auto flush_stderr_line = [&](bool force) {
        std::size_t nl;
        while ((nl = stderr_line.find('\n')) != std::string::npos) {
            if (spec.on_stderr_line) spec.on_stderr_line(stderr_line.substr(0, nl));
            stderr_line.erase(0, nl + 1);
        }
        while (stderr_line.size() >= spec.stderr_line_cap) {  // no newline in sight: log it in pieces
            if (spec.on_stderr_line) spec.on_stderr_line(stderr_line.substr(0, spec.stderr_line_cap) + " [line cut]");
            stderr_line.erase(0, spec.stderr_line_cap);
        }
        if (force && !stderr_line.empty()) {
            if (spec.on_stderr_line) spec.on_stderr_line(stderr_line);
            stderr_line.clear();
        }
    };

    const std::int64_t start = steady_ms();
    std::int64_t term_sent_at = -1;
    bool killed = false, exited = false;
    int wstatus = 0;
    std::int64_t exited_at = -1;
    char buf[65536];

    auto stop_child = [&](std::int64_t now) {
        if (term_sent_at < 0) {
            kill(-pid, SIGTERM);
            kill(pid, SIGTERM);
            term_sent_at = now;
        } else if (!killed && now - term_sent_at >= spec.kill_grace_ms) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            killed = true;
        }
    };

    while (true) {
        std::int64_t now = steady_ms();
        if (!exited) {
            if (spec.timeout_ms > 0 && now - start >= spec.timeout_ms && !result.cancelled) {
                result.timed_out = true;
                stop_child(now);
            }
            if (spec.cancel && spec.cancel->load() && !result.timed_out) {
                result.cancelled = true;
                stop_child(now);
            }
            if (term_sent_at >= 0) stop_child(now);
            if (may_have_exited || pidfd < 0) {
                siginfo_t info{};
                if (!spec.inherit_stdio && waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                    info.si_pid == pid)
                    forget_process_group(pid);  // before the reap, so the group id cannot be reused meanwhile
                pid_t w = waitpid(pid, &wstatus, WNOHANG);
                if (w == pid) {
                    exited = true;
                    exited_at = now;
                }
                may_have_exited = false;
            }
        }
        bool out_open = out.fd[0] >= 0, err_open = err.fd[0] >= 0;
        // Once the child has exited, give lingering grandchildren holding the pipes 100ms.
        if (exited && ((!out_open && !err_open) || now - exited_at > 100)) break;

        pollfd fds[4];
        int n = 0;
        int idx_in = -1, idx_out = -1, idx_err = -1;
        if (pidfd >= 0 && !exited) fds[n++] = {pidfd, POLLIN, 0};
        if (in.fd[1] >= 0) { idx_in = n; fds[n++] = {in.fd[1], POLLOUT, 0}; }
        if (out_open) { idx_out = n; fds[n++] = {out.fd[0], POLLIN, 0}; }
        if (err_open) { idx_err = n; fds[n++] = {err.fd[0], POLLIN, 0}; }
        int wait_ms = 50;
        if (n == 0) {
            // Nothing left to read and no pidfd: wait for the exit.
            if (!exited) {
                struct timespec ts{0, 2'000'000};
                nanosleep(&ts, nullptr);
            }
            continue;
        }
        int pr = poll(fds, n, exited ? 10 : wait_ms);
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        if (pidfd >= 0 && !exited && fds[0].revents) may_have_exited = true;
        if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in.fd[1], spec.stdin_data.data() + written, spec.stdin_data.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            if (w < 0 && errno != EAGAIN) written = spec.stdin_data.size();  // EPIPE: it does not read stdin
            if (written >= spec.stdin_data.size()) Pipe::close_fd(in.fd[1]);
        }
        if (idx_out >= 0 && (fds[idx_out].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(out.fd[0], buf, sizeof buf);
            if (r > 0) {
                std::size_t room = spec.stdout_cap > result.stdout_data.size() ? spec.stdout_cap - result.stdout_data.size() : 0;
                if (static_cast<std::size_t>(r) > room) result.stdout_truncated = true;
                result.stdout_data.append(buf, std::min<std::size_t>(room, static_cast<std::size_t>(r)));
            } else if (r == 0 || errno != EAGAIN) {
                Pipe::close_fd(out.fd[0]);
            }
        }
        if (idx_err >= 0 && (fds[idx_err].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(err.fd[0], buf, sizeof buf);
            if (r > 0) {
                result.stderr_tail.append(buf, static_cast<std::size_t>(r));
                if (result.stderr_tail.size() > spec.stderr_tail_cap) {
                    result.stderr_tail.erase(0, result.stderr_tail.size() - spec.stderr_tail_cap);
                    stderr_cut = true;
                }
                stderr_line.append(buf, static_cast<std::size_t>(r));
                flush_stderr_line(false);
            } else if (r == 0 || errno != EAGAIN) {
                Pipe::close_fd(err.fd[0]);
            }
        }
    }
    flush_stderr_line(true);
    // The tail becomes last_error: start it at a character, not inside one the cut split, and
    // keep it valid UTF-8 without NUL so that every backend stores it.
    std::size_t skip = 0;
    while (stderr_cut && skip < 3 && skip < result.stderr_tail.size() &&
           (static_cast<unsigned char>(result.stderr_tail[skip]) & 0xc0) == 0x80)
        ++skip;
    result.stderr_tail = to_valid_utf8(std::string_view(result.stderr_tail).substr(skip));
    if (pidfd >= 0) ::close(pidfd);
    if (!exited) {
        if (!spec.inherit_stdio) forget_process_group(pid);  // the loop broke off (poll failed): rare
        waitpid(pid, &wstatus, 0);
    }
    if (WIFEXITED(wstatus)) result.exit_code = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus)) result.term_signal = WTERMSIG(wstatus);
    return result;
}

std::string describe_signal(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return "signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
}

}  // namespace wfq
