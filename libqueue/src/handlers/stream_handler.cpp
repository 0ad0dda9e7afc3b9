// Stream handlers: N long-lived processes, each fed job lines on stdin and answering on stdout
// in any order. start() writes a job's line and returns; no thread waits per job. One
// supervisor thread per process starts it, reads its stdout and stderr, hands answers to their
// jobs' done, writes what its stdin could not take at once, and restarts the process with
// backoff when it exits or breaks the protocol (its unanswered jobs then fail as crash or
// protocol); one timer thread watches cancels, deadlines and the cancel grace.
#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/live_log.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>
#include <wfq/stream_handler.h>
#include <wfq/text.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace wfq {
namespace {

using nlohmann::json;

constexpr std::size_t kStderrLineCap = 8192;
constexpr std::size_t kStderrTailCap = 4096;
constexpr std::size_t kRecentIds = 4096;

// s as a JSON string; plain printable ASCII (nearly every type, queue and id) without a JSON
// document in between.
void append_quoted(std::string& out, const std::string& s) {
    bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (!plain) {
        out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
        return;
    }
    out += '"';
    out += s;
    out += '"';
}

// Raw JSON on one line: newlines can only be whitespace there (a JSON string holds none raw).
void append_one_line(std::string& out, const std::string& raw) {
    std::size_t from = out.size();
    out += raw;
    for (std::size_t i = from; i < out.size(); ++i)
        if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
}

std::string head(std::string_view line) {
    std::string h(line.substr(0, 200));
    if (line.size() > 200) h += "...";
    return to_valid_utf8(h);
}

// The answer of nearly every job, `{"id": N, "ok": true}` (whitespace anywhere), read without
// building a JSON document; false for anything else (the full parser decides).
bool plain_ok_answer(std::string_view line, std::int64_t& id) {
    std::size_t i = 0;
    auto ws = [&] {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) ++i;
    };
    auto lit = [&](std::string_view t) {
        ws();
        if (line.substr(i, t.size()) != t) return false;
        i += t.size();
        return true;
    };
    if (!lit("{") || !lit("\"id\"") || !lit(":")) return false;
    ws();
    std::size_t digits = 0;
    std::int64_t n = 0;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9' && digits < 18) n = n * 10 + (line[i++] - '0'), ++digits;
    if (digits == 0 || (digits > 1 && line[i - digits] == '0')) return false;  // none, or a leading zero (not JSON)
    if (!lit(",") || !lit("\"ok\"") || !lit(":") || !lit("true") || !lit("}")) return false;
    ws();
    if (i != line.size()) return false;
    id = n;
    return true;
}

HandlerResult to_result(std::int64_t id, const json& msg, std::string_view line) {
    HandlerResult r;
    if (msg.contains("snooze")) {
        std::string error;
        try {
            const auto& v = msg["snooze"];
            if (!v.is_string()) throw Error(ErrorCode::bad_input, "must be a duration string such as \"30s\"");
            std::int64_t ms = parse_duration_ms(v.get<std::string>());
            if (ms <= 0) throw Error(ErrorCode::bad_input, "must be positive");
            r.outcome = HandlerResult::Outcome::snoozed;
            r.delay_ms = ms;
        } catch (const std::exception& e) {
            r.outcome = HandlerResult::Outcome::failure;
            r.error_class = "bad_output";
            r.error = std::string("handler asked to snooze with an invalid \"snooze\": ") + e.what();
        }
        return r;
    }
    auto ok = msg.find("ok");
    if (ok == msg.end() || !ok->is_boolean()) {
        r.outcome = HandlerResult::Outcome::failure;
        r.error_class = "protocol";
        r.error = "the answer has neither \"ok\": true/false nor \"snooze\": " + head(line);
        return r;
    }
    if (ok->get<bool>()) {
        r.outcome = HandlerResult::Outcome::success;
        auto res = msg.find("result");
        if (res != msg.end() && !res->is_null()) {
            // The line was parsed bounded (size, nesting, no NUL byte): one dump is the result
            // as stored, unless it holds a \u0000 (the only thing left to refuse).
            std::optional<std::string> problem;
            if (line.find("\\u0000") != std::string_view::npos) problem = storable_json_problem(*res);
            if (!problem) {
                r.output = res->dump(-1, ' ', false, json::error_handler_t::replace);
                problem = json_text_problem(*r.output, kMaxJsonBytes);
            }
            if (problem) {
                r.output.reset();
                log::warn("handler output " + *problem + "; result not kept", {{"job_id", std::to_string(id)}});
            }
        }
        return r;
    }
    r.outcome = HandlerResult::Outcome::failure;
    r.error_class = "handler_error";
    auto err = msg.find("error");
    if (err == msg.end() || err->is_null()) r.error = "the handler reported a failure";
    else r.error = err->is_string() ? err->get<std::string>() : err->dump(-1, ' ', false, json::error_handler_t::replace);
    r.error = to_valid_utf8(r.error.size() > 4096 ? r.error.substr(0, 4096) : r.error);
    auto permanent = msg.find("permanent");
    r.permanent = permanent != msg.end() && permanent->is_boolean() && permanent->get<bool>();
    return r;
}

// A child's exit, seen without reaping it (the zombie keeps its pid ours): a pidfd to poll where
// the kernel has them, else waitid(WNOWAIT) to ask.
struct ExitWatch {
    explicit ExitWatch(int child) : pid(child), fd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0))) {}
    ~ExitWatch() {
        if (fd >= 0) ::close(fd);
    }
    ExitWatch(const ExitWatch&) = delete;
    ExitWatch& operator=(const ExitWatch&) = delete;
    bool exited() const {
        siginfo_t info{};
        return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    }
    const int pid;
    const int fd;  // -1 without pidfds
};

// One job given to the handler and not yet answered (or given up). Under StreamHandler::m_mutex.
struct Pending {
    std::int64_t id = 0;
    std::string line;  // its line, until it joins a process's outbox
    const std::atomic<bool>* cancel = nullptr;
    bool has_deadline = false;
    std::int64_t deadline_ns = 0;  // steady
    std::function<void(HandlerResult)> done;
    log::Fields fields;            // for stderr lines that belong to this job
    std::shared_ptr<LiveLog> log;  // the job's own stderr lines
    std::uint64_t line_start = 0, line_end = 0;  // its line's bytes in its process's stdin stream
    std::int64_t cancel_sent_ns = 0;  // {"cancel": id} sent: the work must end within the cancel grace
    bool timed_out_first = false;     // the cancel was sent for --timeout, not for a cancel
    int signals_sent = 0;
};

// One handler process slot, restarted in place. Under StreamHandler::m_mutex but for thread.
struct Proc {
    int index = 0;
    int pid = 0;
    bool alive = false;
    std::uint64_t generation = 0;
    bool answered_any = false;
    std::string protocol_error;  // why it is being killed, when it broke the protocol
    std::string stopped_for;     // why it is being stopped, when a job that must stop went unanswered
    std::map<std::int64_t, std::shared_ptr<Pending>> pending;  // its jobs: in its outbox or sent
    std::deque<std::int64_t> recent_order;                  // ids no longer pending, oldest first
    std::unordered_map<std::int64_t, const char*> recent;  // id -> "answered", "cancelled", "timed out"
    std::string stderr_tail;
    // Its stdin (non-blocking): what could not be written yet waits in the outbox, and its
    // reader thread writes it when the pipe has room. written and queued count the bytes of
    // this process's stdin written, and written or in the outbox.
    int stdin_fd = -1;
    bool stdin_broken = false;  // a write failed (it exited): nothing more is written
    std::string outbox;
    std::uint64_t written = 0, queued = 0;
    bool reader_polls_stdin = false;  // its reader waits for room in the pipe already
    int wake_fd = -1;                 // eventfd: wakes its reader to wait for room in the pipe
    std::thread thread;

    Proc() : wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
    ~Proc() {
        if (wake_fd >= 0) ::close(wake_fd);
    }

    void remember(std::int64_t id, const char* why) {
        if (recent.emplace(id, why).second) recent_order.push_back(id);
        else recent[id] = why;
        while (recent_order.size() > kRecentIds) {
            recent.erase(recent_order.front());
            recent_order.pop_front();
        }
    }
};

// Results to hand over once the handler's lock is released.
using Finishing = std::vector<std::pair<std::shared_ptr<Pending>, HandlerResult>>;

// A reader thread handing over the answers of one read: the job lines their results start meanwhile
// wait in the outboxes, and go in one write per process after the last answer.
thread_local const void* t_corked = nullptr;

// Jobs are written to a process's stdin as they start, by whichever thread starts them (the
// worker's dispatcher, or a reader thread handing over an answer, which starts the next job);
// nothing blocks on a job: each process's reader thread hands its answers over (and writes what
// its stdin could not take at once), and one timer thread watches cancels, deadlines and the
// cancel grace of every job in flight.
class StreamHandler final : public Handler {
public:
    StreamHandler(StreamHandlerOptions options, Clock& clock) : m_options(std::move(options)), m_clock(clock) {
        m_env = current_environment({"WFQ_JOB_ID", "WFQ_JOB_TYPE", "WFQ_QUEUE", "WFQ_ATTEMPT", "WFQ_MAX_ATTEMPTS", "WFQ_SNOOZES",
                                     "WFQ_CORRELATION_ID", "WFQ_DB", "TRACEPARENT", "TRACESTATE", "WFQ_CONFIG_FILE", "WFQ_STAGE"});
        m_env.push_back("WFQ_DB=" + m_options.db_url);
        for (int i = 0; i < m_options.procs; ++i) {
            m_procs.push_back(std::make_unique<Proc>());
            m_procs.back()->index = i;
        }
        for (auto& p : m_procs) p->thread = std::thread([this, proc = p.get()] {
            name_this_thread("wfq-stream");
            supervise(*proc);
        });
        m_delivery = std::thread([this] {
            name_this_thread("wfq-stream-done");
            deliver_loop();
        });
        m_timer = std::thread([this] {
            name_this_thread("wfq-stream-timer");
            watch();
        });
    }

    ~StreamHandler() override {
        {
            // Closing stdin tells each process to finish; its supervisor waits for the exit.
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stopping = true;
            for (auto& p : m_procs) {
                if (p->stdin_fd >= 0) ::close(p->stdin_fd);
                p->stdin_fd = -1;
            }
        }
        m_stop_flag = true;
        m_cv.notify_all();
        m_timer_cv.notify_all();
        for (auto& p : m_procs) p->thread.join();
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_timer_stop = true;
        }
        m_timer_cv.notify_all();
        m_timer.join();
        {
            std::lock_guard<std::mutex> lock(m_delivery_mutex);
            m_delivery_stop = true;
        }
        m_delivery_cv.notify_all();
        m_delivery.join();  // after delivering what the timer handed over
        Finishing finished;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            for (auto& p : m_waiting) conclude(finished, p, cancelled());
            m_waiting.clear();
        }
        deliver(finished);
    }

    bool asynchronous() const override { return true; }

    HandlerResult run(const Job& job, const std::atomic<bool>& cancel) override {
        struct Result {
            std::mutex mutex;
            std::condition_variable cv;
            bool done = false;
            HandlerResult r;
        };
        auto result = std::make_shared<Result>();
        start(job, cancel, [result](HandlerResult r) {
            std::lock_guard<std::mutex> lock(result->mutex);
            result->r = std::move(r);
            result->done = true;
            result->cv.notify_all();
        });
        std::unique_lock<std::mutex> lock(result->mutex);
        result->cv.wait(lock, [&] { return result->done; });
        return std::move(result->r);
    }

    void start(const Job& job, const std::atomic<bool>& cancel, std::function<void(HandlerResult)> done) override {
        auto p = std::make_shared<Pending>();
        p->id = job.id;
        p->cancel = &cancel;
        p->done = std::move(done);
        p->log = open_attempt_log(m_options.live_logs, job.id, job.attempt, m_options.log_cap);
        p->has_deadline = m_options.timeout_ms > 0;
        if (p->has_deadline) p->deadline_ns = m_clock.steady_ns() + m_options.timeout_ms * 1'000'000;
        p->line = stream_job_line(job, p->has_deadline ? m_clock.now_ms() + m_options.timeout_ms : 0);
        p->line += '\n';
        p->fields = {{"job_id", std::to_string(job.id)}, {"type", job.type}, {"attempt", std::to_string(job.attempt)},
                     {"correlation_id", job.correlation_id}, {"stream", "stderr"}};
        Finishing finished;
        bool wake_timer = false;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            // A live process: the one with the fewest jobs in flight.
            Proc* proc = nullptr;
            for (auto& q : m_procs)
                if (q->alive && (!proc || q->pending.size() < proc->pending.size())) proc = q.get();
            if (proc) send(*proc, p);
            else if (!m_spawn_error.empty()) conclude(finished, p, spawn_failure());
            else if (m_stopping) conclude(finished, p, cancelled());
            else m_waiting.push_back(p);  // until a process starts
            // The timer sleeps while no job is held, and 100 ms at most otherwise.
            wake_timer = finished.empty() && (m_timer_idle || (p->has_deadline && m_options.timeout_ms < 100));
            if (wake_timer) m_timer_idle = false;
        }
        if (wake_timer) m_timer_cv.notify_one();
        deliver(finished);
    }

private:
    HandlerResult cancelled() const {
        HandlerResult r;
        r.outcome = HandlerResult::Outcome::cancelled;
        return r;
    }
    HandlerResult timed_out() const {
        HandlerResult r;
        r.outcome = HandlerResult::Outcome::timeout;
        r.error = "timed out after " + format_duration_ms(m_options.timeout_ms) + " (stream handler)";
        return r;
    }
    HandlerResult spawn_failure() const {
        HandlerResult r;
        r.outcome = HandlerResult::Outcome::failure;
        r.exit_code = 127;
        r.error = m_spawn_error;
        return r;
    }

    // Under m_mutex: p leaves the handler with r (cancelled or timed out instead once a cancel
    // was sent for it); its log closes, so no line is added to it any more.
    void conclude(Finishing& out, std::shared_ptr<Pending> p, HandlerResult r) {
        if (p->cancel_sent_ns) r = p->timed_out_first ? timed_out() : cancelled();
        r.log = close_attempt_log(m_options.live_logs, p->log);
        out.emplace_back(std::move(p), std::move(r));
    }

    // Without m_mutex: the results go to their jobs' done (which may start more jobs).
    static void deliver(Finishing& finished) {
        for (auto& [p, r] : finished) {
            auto done = std::move(p->done);
            done(std::move(r));
        }
        finished.clear();
    }

    // Under m_mutex: p's line joins proc's outbox, written at once unless a reader thread is
    // handing over a read's answers (then after them, with the lines they started).
    void send(Proc& proc, const std::shared_ptr<Pending>& p) {
        proc.pending[p->id] = p;
        p->line_start = proc.queued;
        proc.outbox += p->line;
        proc.queued += p->line.size();
        p->line_end = proc.queued;
        p->line = std::string();
        if (t_corked == this) m_corked_sends = true;
        else flush(proc);
    }

    // Under m_mutex: writes what proc's stdin takes now; its reader writes the rest when the pipe has room.
    void flush(Proc& proc) {
        if (proc.stdin_fd < 0 || proc.stdin_broken) return;
        while (!proc.outbox.empty()) {
            ssize_t n = ::write(proc.stdin_fd, proc.outbox.data(), proc.outbox.size());
            if (n > 0) {
                proc.outbox.erase(0, static_cast<std::size_t>(n));
                proc.written += static_cast<std::uint64_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN) proc.stdin_broken = true;  // EPIPE: it exited; its jobs fail with it
            break;
        }
        if (!proc.outbox.empty() && !proc.stdin_broken && !proc.reader_polls_stdin) {
            std::uint64_t one = 1;
            [[maybe_unused]] ssize_t w = ::write(proc.wake_fd, &one, sizeof one);
        }
    }

    // Under m_mutex: takes p's line out of proc's outbox, none of it written yet.
    void unqueue(Proc& proc, const Pending& p) {
        const std::uint64_t len = p.line_end - p.line_start;
        proc.outbox.erase(static_cast<std::size_t>(p.line_start - proc.written), static_cast<std::size_t>(len));
        proc.queued -= len;
        for (auto& [id, q] : proc.pending)
            if (q->line_start >= p.line_end) {
                q->line_start -= len;
                q->line_end -= len;
            }
    }

    // Under m_mutex: {"cancel": id} to proc, the job still waiting for its answer (which ends its work).
    void send_cancel(Proc& proc, std::int64_t id) {
        std::string msg = "{\"cancel\":" + std::to_string(id) + "}\n";
        proc.outbox += msg;
        proc.queued += msg.size();
        flush(proc);
        if (!proc.outbox.empty())
            log::warn("could not tell the stream handler to cancel a job (its stdin is full); it is stopped if it does not answer",
                      {{"job_id", std::to_string(id)}});
    }

    // Under m_mutex: the job p was sent {"cancel": id} and not answered within half the cancel
    // grace (SIGTERM) or all of it (SIGKILL): its process is stopped, and restarted.
    void stop_for_cancel(Proc& proc, const Pending& p, int sig) {
        if (!proc.alive || proc.pid <= 0) return;
        if (sig == SIGTERM) {
            proc.stopped_for = "stopped because it did not answer {\"cancel\": " + std::to_string(p.id) + "} within " +
                               format_duration_ms(m_options.cancel_grace_ms / 2);
            log::warn("stream handler did not answer a job that must stop; sending SIGTERM, its other jobs in flight fail as crash",
                      {{"job_id", std::to_string(p.id)}, {"handler_pid", std::to_string(proc.pid)},
                       {"jobs_in_flight", std::to_string(proc.pending.size())}});
        }
        ::kill(-proc.pid, sig);
        ::kill(proc.pid, sig);
    }

    // Under m_mutex: kills proc's current process; its supervisor restarts it.
    void restart(Proc& proc, const std::string& why) {
        if (!proc.alive || proc.pid <= 0) return;
        if (proc.protocol_error.empty()) proc.protocol_error = why;
        ::kill(-proc.pid, SIGKILL);
        ::kill(proc.pid, SIGKILL);
    }

    // The timer thread: every job that must stop (cancelled, or past its deadline) is given up
    // when its line is not sent yet, else sent {"cancel": id}, and its process stopped when it
    // does not answer within the cancel grace.
    void watch() {
        std::unique_lock<std::mutex> lock(m_mutex);
        while (!m_timer_stop) {
            Finishing finished;
            std::int64_t wait_ms = tick(finished);
            if (!finished.empty()) {
                // Not delivered here: done() records the outcome and may start the next job,
                // which can wait on the database (the completer's backpressure, a config
                // lookup during an outage), and meanwhile no cancel line or signal would go
                // out for any other job that must stop before its lease ends.
                hand_off(finished);
                continue;
            }
            if (wait_ms < 0) {
                m_timer_idle = true;
                m_timer_cv.wait(lock, [&] { return m_timer_stop || !m_timer_idle; });
            } else {
                m_timer_cv.wait_for(lock, std::chrono::milliseconds(wait_ms));
            }
        }
    }

    // The timer's results, to be delivered by the delivery thread (m_delivery_mutex is never
    // held while m_mutex is taken).
    void hand_off(Finishing& finished) {
        {
            std::lock_guard<std::mutex> lock(m_delivery_mutex);
            for (auto& f : finished) m_deliveries.push_back(std::move(f));
        }
        finished.clear();
        m_delivery_cv.notify_one();
    }

    void deliver_loop() {
        std::unique_lock<std::mutex> lock(m_delivery_mutex);
        for (;;) {
            m_delivery_cv.wait(lock, [&] { return m_delivery_stop || !m_deliveries.empty(); });
            if (m_deliveries.empty()) return;  // stopping, and all delivered
            Finishing batch;
            batch.swap(m_deliveries);
            lock.unlock();
            deliver(batch);
            lock.lock();
        }
    }

    // Under m_mutex: one look at every job held; how long the timer may sleep (ms; -1: no job held).
    std::int64_t tick(Finishing& finished) {
        // The clock is read only while a job is held: with none (the timer's first look, say)
        // there is nothing to time, and a test clock sees its reads in the jobs' order.
        const bool holding = !m_waiting.empty() ||
                             std::any_of(m_procs.begin(), m_procs.end(), [](const auto& p) { return !p->pending.empty(); });
        if (!holding) return -1;
        const std::int64_t now = m_clock.steady_ns();
        std::int64_t wait_ms = 100;
        auto expired = [&](const Pending& p) { return p.has_deadline && now >= p.deadline_ns; };
        auto until_deadline = [&](const Pending& p) {
            if (p.has_deadline) wait_ms = std::min(wait_ms, (p.deadline_ns - now) / 1'000'000 + 1);
        };
        for (auto it = m_waiting.begin(); it != m_waiting.end();) {
            const auto& p = *it;
            if (*p->cancel || m_stopping || expired(*p)) {
                conclude(finished, p, *p->cancel || m_stopping ? cancelled() : timed_out());
                it = m_waiting.erase(it);
                continue;
            }
            until_deadline(*p);
            ++it;
        }
        for (auto& procp : m_procs) {
            Proc& proc = *procp;
            for (auto it = proc.pending.begin(); it != proc.pending.end();) {
                Pending& p = *it->second;
                if (!p.cancel_sent_ns && (*p.cancel || expired(p))) {
                    const bool was_cancel = *p.cancel;
                    if (p.line_end > proc.written) {
                        // Its line is not all in the process's stdin: it is given up unsent,
                        // unless half of it is in (the stream is unusable: restart the process).
                        const bool midway = p.line_start < proc.written;
                        if (!midway) unqueue(proc, p);
                        proc.remember(p.id, was_cancel ? "cancelled" : "timed out");
                        conclude(finished, it->second, was_cancel ? cancelled() : timed_out());
                        it = proc.pending.erase(it);
                        if (midway) restart(proc, "it stopped reading its stdin in the middle of a job's line");
                        continue;
                    }
                    // The job must stop (its lease may be gone): ask, and stop the process if it
                    // does not answer for the job in time (an exec handler would be killed too).
                    p.timed_out_first = !was_cancel;
                    p.cancel_sent_ns = now;
                    send_cancel(proc, p.id);
                }
                if (p.cancel_sent_ns) {
                    const std::int64_t waited_ms = (now - p.cancel_sent_ns) / 1'000'000;
                    const int due = waited_ms >= m_options.cancel_grace_ms ? 2 : waited_ms * 2 >= m_options.cancel_grace_ms ? 1 : 0;
                    if (due > p.signals_sent) {
                        p.signals_sent = due;
                        stop_for_cancel(proc, p, due == 2 ? SIGKILL : SIGTERM);
                    }
                    // Its supervisor fails the jobs of a stopped process, this one included.
                    if (p.signals_sent < 2)
                        wait_ms = std::min(wait_ms, std::clamp<std::int64_t>((p.signals_sent == 0 ? m_options.cancel_grace_ms / 2
                                                                                                   : m_options.cancel_grace_ms) -
                                                                                 waited_ms,
                                                                             1, 100));
                } else {
                    until_deadline(p);
                }
                ++it;
            }
        }
        return std::max<std::int64_t>(wait_ms, 1);
    }

    void supervise(Proc& proc) {
        int failures = 0;
        for (;;) {
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                if (m_stopping) return;
            }
            SpawnedProcess child = spawn_process(m_options.command, m_env);
            if (!child.pid) {
                log::error("cannot start the stream handler: " + child.error, {{"handler_proc", std::to_string(proc.index)}});
                Finishing finished;
                {
                    std::lock_guard<std::mutex> lock(m_mutex);
                    m_spawn_error = child.error;
                    for (auto& p : m_waiting) conclude(finished, p, spawn_failure());
                    m_waiting.clear();
                }
                deliver(finished);
                if (!backoff(++failures)) return;
                continue;
            }
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                m_spawn_error.clear();
                proc.pid = child.pid;
                proc.alive = true;
                ++proc.generation;
                proc.answered_any = false;
                proc.protocol_error.clear();
                proc.stopped_for.clear();
                proc.stderr_tail.clear();
                proc.stdin_fd = child.stdin_fd;
                proc.stdin_broken = false;
                proc.outbox.clear();
                proc.written = proc.queued = 0;
                if (m_stopping) {  // the destructor closed the previous one and will not see this
                    ::close(proc.stdin_fd);
                    proc.stdin_fd = -1;
                }
                // The jobs that waited for a process.
                for (auto& p : m_waiting) send(proc, p);
                m_waiting.clear();
            }
            log::debug("stream handler started", {{"handler_pid", std::to_string(child.pid)}, {"handler_proc", std::to_string(proc.index)}});

            read_until_exit(proc, child);
            {
                // No job goes to it and no signal to its pid from here on: reap() waits for
                // it, and once it is reaped its pid may be another process's.
                std::lock_guard<std::mutex> lock(m_mutex);
                proc.alive = false;
            }
            std::string status = reap(proc, child.pid);

            Finishing finished;
            std::size_t unanswered;
            std::string protocol, stopped_for;
            bool stopping, answered;
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                if (proc.stdin_fd >= 0) ::close(proc.stdin_fd);
                proc.stdin_fd = -1;
                protocol = proc.protocol_error;
                stopped_for = proc.stopped_for;
                stopping = m_stopping;
                answered = proc.answered_any;
                // A job none of whose line reached the process never started there: it waits
                // for the next process (or is given back if the handler is stopping), and its
                // attempt is not spent on another job's crash.
                std::deque<std::shared_ptr<Pending>> unsent;
                for (auto it = proc.pending.begin(); it != proc.pending.end();) {
                    Pending& p = *it->second;
                    if (p.line_start >= proc.written && p.line_end - proc.written <= proc.outbox.size()) {
                        p.line = proc.outbox.substr(static_cast<std::size_t>(p.line_start - proc.written),
                                                    static_cast<std::size_t>(p.line_end - p.line_start));
                        unsent.push_back(it->second);
                        it = proc.pending.erase(it);
                    } else {
                        ++it;
                    }
                }
                std::sort(unsent.begin(), unsent.end(), [](const auto& a, const auto& b) { return a->line_start < b->line_start; });
                m_waiting.insert(m_waiting.begin(), unsent.begin(), unsent.end());
                proc.outbox.clear();
                unanswered = proc.pending.size();
                for (auto& [id, p] : proc.pending) {
                    proc.remember(id, "failed with its process");
                    HandlerResult r;
                    r.outcome = HandlerResult::Outcome::crash;
                    if (!protocol.empty()) {
                        r.error_class = "protocol";
                        r.error = "the stream handler broke the protocol (" + protocol + ") and was restarted";
                    } else {
                        r.error = "the stream handler " + (stopped_for.empty() ? status : stopped_for + " and " + status) +
                                  " before answering";
                        r.ended_by = "stream handler " + status;
                    }
                    if (!proc.stderr_tail.empty()) r.error += "; stderr: " + to_valid_utf8(proc.stderr_tail);
                    conclude(finished, p, std::move(r));
                }
                proc.pending.clear();
            }
            ::close(child.stdout_fd);
            ::close(child.stderr_fd);
            deliver(finished);
            if (stopping) {
                log::debug("stream handler stopped", {{"handler_pid", std::to_string(child.pid)}, {"status", status}});
                return;
            }
            failures = answered ? 1 : failures + 1;
            std::int64_t delay = restart_delay(failures);
            log::Fields f{{"handler_pid", std::to_string(child.pid)}, {"handler_proc", std::to_string(proc.index)},
                          {"unanswered_jobs", std::to_string(unanswered)}, {"restart_in", format_duration_ms(delay)}};
            if (!protocol.empty()) log::error("stream handler broke the protocol (" + protocol + "); restarting it", f);
            else if (!stopped_for.empty()) log::warn("stream handler " + stopped_for + "; restarting it", f);
            else log::error("stream handler " + status + "; restarting it", f);
            if (!backoff(failures)) return;
        }
    }

    std::int64_t restart_delay(int failures) const {
        std::int64_t d = m_options.restart_ms;
        for (int i = 1; i < failures && d < m_options.max_restart_ms; ++i) d *= 2;
        return std::min(d, m_options.max_restart_ms);
    }

    // Sleeps the restart delay; false when the handler is stopping.
    bool backoff(int failures) {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_cv.wait_for(lock, std::chrono::milliseconds(restart_delay(failures)), [&] { return m_stopping; });
        return !m_stopping;
    }

    // Reads stdout (answers) and stderr (log lines), and writes what waits in the outbox when
    // stdin has room, until stdout closes or the process breaks the protocol (then it is killed).
    void read_until_exit(Proc& proc, const SpawnedProcess& child) {
        std::string out, err;
        char buf[65536];
        bool out_open = true, err_open = true;
        std::optional<std::int64_t> stop_seen_ns;
        // The process's exit (a pidfd, else waitid when idle): a process it started may hold its
        // stdout open after it died, and its jobs would wait forever for an answer. What it wrote
        // before it exited is read for 100 ms more; then reap() stops its process group.
        const ExitWatch exit_watch(child.pid);
        std::optional<std::int64_t> exit_seen_ns;
        while (out_open) {
            if (!stop_seen_ns && m_stop_flag) stop_seen_ns = m_clock.steady_ns();
            // Stopping: its stdin is closed; after --grace it is stopped whether it closed stdout or not.
            if (stop_seen_ns && m_clock.steady_ns() - *stop_seen_ns >= m_options.grace_ms * 1'000'000) break;
            if (exit_seen_ns && m_clock.steady_ns() - *exit_seen_ns >= 100'000'000) {
                log::warn("stream handler exited, but a process it started keeps its stdout open; stopping them",
                          {{"handler_pid", std::to_string(child.pid)}});
                break;
            }
            int in_fd = -1;
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                if (!proc.outbox.empty() && !proc.stdin_broken) in_fd = proc.stdin_fd;
                proc.reader_polls_stdin = in_fd >= 0;
            }
            pollfd fds[5] = {{child.stdout_fd, POLLIN, 0},
                             {err_open ? child.stderr_fd : -1, POLLIN, 0},
                             {in_fd, POLLOUT, 0},
                             {proc.wake_fd, POLLIN, 0},
                             {exit_seen_ns ? -1 : exit_watch.fd, POLLIN, 0}};
            int n = ::poll(fds, 5, exit_seen_ns ? 20 : 100);
            if (n < 0 && errno != EINTR) break;
            if (!exit_seen_ns && (fds[4].revents || (n == 0 && exit_watch.fd < 0 && exit_watch.exited())))
                exit_seen_ns = m_clock.steady_ns();
            if (n <= 0) continue;
            if (fds[3].revents) {
                std::uint64_t count;
                [[maybe_unused]] ssize_t r = ::read(proc.wake_fd, &count, sizeof count);
            }
            if (fds[2].revents) {
                std::lock_guard<std::mutex> lock(m_mutex);
                proc.reader_polls_stdin = false;
                flush(proc);
            }
            // Reads what stderr holds now (its pipe is non-blocking), 512 KiB at most per call:
            // a handler that writes stderr faster than it is logged must not keep this thread
            // from its answers and its stdin.
            auto read_stderr = [&] {
                for (int reads = 0; err_open && reads < 8; ++reads) {
                    ssize_t r = ::read(child.stderr_fd, buf, sizeof buf);
                    if (r > 0) {
                        err.append(buf, static_cast<std::size_t>(r));
                        stderr_lines(proc, err, false);
                        if (static_cast<std::size_t>(r) < sizeof buf) return;
                    } else {
                        if (r == 0 || (errno != EAGAIN && errno != EINTR)) err_open = false;
                        return;
                    }
                }
            };
            if (fds[1].revents) read_stderr();
            if (fds[0].revents) {
                ssize_t r = ::read(child.stdout_fd, buf, sizeof buf);
                if (r > 0) {
                    out.append(buf, static_cast<std::size_t>(r));
                    // A handler writes a job's stderr before its answer, so whatever it wrote
                    // before these answers is in the stderr pipe now: log it while the jobs are
                    // still in flight, so its lines keep their job's id.
                    read_stderr();
                    if (!answers(proc, out)) return;  // killed; its exit ends the loop next time
                    if (out.size() > m_options.max_line) {
                        protocol_error(proc, "a line longer than " + std::to_string(m_options.max_line) + " bytes");
                        return;
                    }
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    out_open = false;
                }
            }
        }
        // What it wrote to stderr on its way out.
        while (err_open) {
            pollfd pfd{child.stderr_fd, POLLIN, 0};
            if (::poll(&pfd, 1, 100) <= 0) break;
            ssize_t r = ::read(child.stderr_fd, buf, sizeof buf);
            if (r <= 0) break;
            err.append(buf, static_cast<std::size_t>(r));
            stderr_lines(proc, err, false);
        }
        stderr_lines(proc, err, true);
    }

    // Hands over the complete answer lines in out (and takes them out of it): the results go
    // to their jobs, and the job lines those start go to the processes in one write each.
    // False after a protocol error (the process is being killed).
    bool answers(Proc& proc, std::string& out) {
        Finishing finished;
        bool ok = true;
        std::size_t start = 0, nl;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            while (ok && (nl = out.find('\n', start)) != std::string::npos) {
                std::string_view line = std::string_view(out).substr(start, nl - start);
                start = nl + 1;
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                if (line.empty()) continue;
                ok = answer(proc, line, finished);
            }
        }
        out.erase(0, start);
        t_corked = this;
        deliver(finished);
        t_corked = nullptr;
        if (m_corked_sends.exchange(false)) {
            std::lock_guard<std::mutex> lock(m_mutex);
            for (auto& p : m_procs) flush(*p);
        }
        return ok;
    }

    // Under m_mutex: handles one answer line; false after a protocol error.
    bool answer(Proc& proc, std::string_view line, Finishing& finished) {
        StreamAnswer parsed;
        try {
            parsed = parse_stream_answer(line);
        } catch (const Error& e) {
            if (proc.protocol_error.empty()) proc.protocol_error = e.what();
            ::kill(-proc.pid, SIGKILL);
            ::kill(proc.pid, SIGKILL);
            return false;
        }
        const std::int64_t id = parsed.id;
        auto it = proc.pending.find(id);
        if (it == proc.pending.end()) {
            auto seen = proc.recent.find(id);
            log::Fields f{{"job_id", std::to_string(id)}, {"handler_pid", std::to_string(proc.pid)}};
            if (seen == proc.recent.end())
                log::warn("stream handler answered for a job it was not given; ignored: " + head(line), f);
            else if (std::string(seen->second) == "answered")
                log::warn("stream handler answered a job a second time; ignored: " + head(line), f);
            else
                log::debug(std::string("answer for a job already ") + seen->second + "; discarded", f);
            return true;
        }
        conclude(finished, std::move(it->second), std::move(parsed.result));
        proc.pending.erase(it);
        proc.remember(id, "answered");
        proc.answered_any = true;
        return true;
    }

    void stderr_lines(Proc& proc, std::string& buffer, bool flush) {
        std::size_t start = 0;
        for (;;) {
            std::size_t nl = buffer.find('\n', start);
            std::string line;
            if (nl != std::string::npos && nl - start <= kStderrLineCap) {
                line = buffer.substr(start, nl - start);
                start = nl + 1;
            } else if (buffer.size() - start >= kStderrLineCap) {
                line = buffer.substr(start, kStderrLineCap) + " [line cut]";
                start += kStderrLineCap;
            } else if (flush && start < buffer.size()) {
                line = buffer.substr(start);
                start = buffer.size();
            } else {
                break;
            }
            log_stderr_line(proc, line);
        }
        buffer.erase(0, start);
    }

    void log_stderr_line(Proc& proc, const std::string& line) {
        log::Fields fields;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            proc.stderr_tail += line;
            proc.stderr_tail += '\n';
            if (proc.stderr_tail.size() > kStderrTailCap) proc.stderr_tail.erase(0, proc.stderr_tail.size() - kStderrTailCap);
            std::shared_ptr<Pending> owner;
            if (line.size() > 2 && line[0] == '[') {
                std::size_t close = line.find(']');
                if (close != std::string::npos && close > 1 && close < 21) {
                    try {
                        auto it = proc.pending.find(std::stoll(line.substr(1, close - 1)));
                        if (it != proc.pending.end()) owner = it->second;
                    } catch (const std::exception&) {
                    }
                }
            }
            if (!owner && proc.pending.size() == 1) owner = proc.pending.begin()->second;
            if (owner) {
                fields = owner->fields;
                owner->log->add_line(line);
            } else fields = {{"stream", "stderr"}};
            fields.emplace_back("handler_pid", std::to_string(proc.pid));
        }
        log::info(to_valid_utf8(line), fields);
    }


    void protocol_error(Proc& proc, const std::string& why) {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (proc.protocol_error.empty()) proc.protocol_error = why;
        ::kill(-proc.pid, SIGKILL);
        ::kill(proc.pid, SIGKILL);
    }

    // Waits for pid to exit: at once when it crashed, within grace when stopping (then SIGTERM,
    // SIGKILL to its group). What is left of its group is killed. Returns how it ended.
    std::string reap(Proc& proc, int pid) {
        bool stopping;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            stopping = m_stopping;
        }
        const ExitWatch watch(pid);
        auto wait_exit = [&](std::int64_t ms) {
            if (watch.fd < 0) {
                for (std::int64_t waited = 0; waited < ms; waited += 10) {
                    if (watch.exited()) return true;
                    ::usleep(10000);
                }
                return false;
            }
            pollfd pfd{watch.fd, POLLIN, 0};
            return ::poll(&pfd, 1, static_cast<int>(ms)) > 0;
        };
        // Its stdout closed (or --grace passed): it is exiting. One that lives on is stopped.
        if (!wait_exit(stopping ? 100 : 1000)) {
            if (stopping) log::warn("stream handler did not exit within --grace after its stdin was closed; sending SIGTERM",
                                    {{"handler_pid", std::to_string(pid)}});
            ::kill(-pid, SIGTERM);
            ::kill(pid, SIGTERM);
            if (!wait_exit(m_options.kill_grace_ms)) {
                ::kill(-pid, SIGKILL);
                ::kill(pid, SIGKILL);
                wait_exit(60000);
            }
        }
        ::kill(-pid, SIGKILL);  // its leftovers (the leader is a zombie: the group id is still ours)
        forget_process_group(pid);
        int status = 0;
        ::waitpid(pid, &status, 0);
        (void)proc;
        if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) return "was killed by " + describe_signal(WTERMSIG(status));
        return "ended";
    }

    StreamHandlerOptions m_options;
    Clock& m_clock;  // job deadlines, the cancel grace and the stop grace
    std::vector<std::string> m_env;
    std::mutex m_mutex;
    std::condition_variable m_cv;  // stopping (restart backoff)
    bool m_stopping = false;
    std::atomic<bool> m_stop_flag{false};  // m_stopping, read without the lock
    std::string m_spawn_error;  // the last start failed (e.g. no such command)
    std::vector<std::unique_ptr<Proc>> m_procs;
    std::deque<std::shared_ptr<Pending>> m_waiting;  // jobs started while no process was up
    std::atomic<bool> m_corked_sends{false};          // job lines wait in outboxes for a reader's flush
    std::condition_variable m_timer_cv;
    bool m_timer_idle = false;  // the timer sleeps until a job comes
    bool m_timer_stop = false;
    std::thread m_timer;
    std::mutex m_delivery_mutex;
    std::condition_variable m_delivery_cv;
    Finishing m_deliveries;  // the timer's results, not delivered yet
    bool m_delivery_stop = false;
    std::thread m_delivery;
};

}  // namespace

StreamAnswer parse_stream_answer(std::string_view line) {
    StreamAnswer a;
    if (plain_ok_answer(line, a.id)) {
        a.result.outcome = HandlerResult::Outcome::success;
        return a;
    }
    json msg;
    try {
        // Bounded like any JSON from outside: nesting and NUL bytes (the line length is capped
        // by the reader).
        msg = parse_bounded_json(line, "");
    } catch (const Error&) {
        throw Error(ErrorCode::bad_input, "a line that is not JSON: " + head(line));
    }
    auto id = msg.is_object() ? msg.find("id") : msg.end();
    if (!msg.is_object() || id == msg.end() || !id->is_number_integer())
        throw Error(ErrorCode::bad_input, "a line without a numeric \"id\": " + head(line));
    a.id = id->get<std::int64_t>();
    a.result = to_result(a.id, msg, line);
    return a;
}

std::string stream_job_line(const Job& job, std::int64_t deadline_ms) {
    std::string s;
    s.reserve(256 + job.payload.size() + (job.config ? job.config->size() : 0));
    s += "{\"id\":";
    s += std::to_string(job.id);
    s += ",\"type\":";
    append_quoted(s, job.type);
    s += ",\"queue\":";
    append_quoted(s, job.queue);
    s += ",\"attempt\":";
    s += std::to_string(job.attempt);
    s += ",\"max_attempts\":";
    s += std::to_string(job.max_attempts);
    s += ",\"snoozes\":";
    s += std::to_string(job.snoozes);
    s += ",\"payload\":";
    if (job.payload.empty()) s += "{}";
    else append_one_line(s, job.payload);
    s += ",\"correlation_id\":";
    append_quoted(s, job.correlation_id);
    s += ",\"traceparent\":";
    if (job.traceparent) append_quoted(s, *job.traceparent);
    else s += "null";
    s += ",\"config\":";
    if (job.config) append_one_line(s, *job.config);
    else s += "null";
    s += ",\"deadline\":";
    if (deadline_ms > 0) append_quoted(s, format_time(deadline_ms));
    else s += "null";
    s += "}";
    return s;
}

std::unique_ptr<Handler> make_stream_handler(const StreamHandlerOptions& options, Clock& clock) {
    if (options.command.empty()) throw Error(ErrorCode::usage, "--stream needs a command: --stream -- CMD [ARG...]");
    if (options.procs < 1) throw Error(ErrorCode::usage, "--procs must be at least 1");
    return std::make_unique<StreamHandler>(options, clock);
}

}  // namespace wfq
