// Stream handlers: N long-lived processes, each fed job lines on stdin and answering on stdout
// in any order. Executor threads call run(), which writes the job's line and waits for its
// answer; one supervisor thread per process starts it, reads its stdout and stderr, hands
// answers to the waiting run() calls, and restarts the process with backoff when it exits or
// breaks the protocol (its unanswered jobs then fail as crash or protocol).
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
#include <map>
#include <optional>
#include <mutex>
#include <poll.h>
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

// One job sent to a process and not yet answered (or given up).
struct Waiter {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    HandlerResult result;
    log::Fields fields;  // for stderr lines that belong to this job
    std::shared_ptr<LiveLog> log;  // the job's own stderr lines (set before the job is sent)
};

// One handler process slot, restarted in place.
struct Proc {
    int index = 0;
    // Under StreamHandler::m_mutex.
    int pid = 0;
    bool alive = false;
    std::uint64_t generation = 0;
    bool answered_any = false;
    std::string protocol_error;  // why it is being killed, when it broke the protocol
    std::string stopped_for;     // why it is being stopped, when a job that must stop went unanswered
    std::map<std::int64_t, std::shared_ptr<Waiter>> pending;
    std::deque<std::int64_t> recent_order;                  // ids no longer pending, oldest first
    std::unordered_map<std::int64_t, const char*> recent;  // id -> "answered", "cancelled", "timed out"
    std::string stderr_tail;
    // Writes to the process's stdin; the fd is replaced only under write_mutex.
    std::timed_mutex write_mutex;
    int stdin_fd = -1;
    std::thread thread;

    void remember(std::int64_t id, const char* why) {
        if (recent.emplace(id, why).second) recent_order.push_back(id);
        else recent[id] = why;
        while (recent_order.size() > kRecentIds) {
            recent.erase(recent_order.front());
            recent_order.pop_front();
        }
    }
};

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
    }

    ~StreamHandler() override {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stopping = true;
        }
        m_stop_flag = true;
        m_cv.notify_all();
        // Closing stdin tells each process to finish; its supervisor waits for the exit.
        for (auto& p : m_procs) {
            std::lock_guard<std::timed_mutex> w(p->write_mutex);
            if (p->stdin_fd >= 0) ::close(p->stdin_fd);
            p->stdin_fd = -1;
        }
        for (auto& p : m_procs) p->thread.join();
    }

    HandlerResult run(const Job& job, const std::atomic<bool>& cancel) override {
        auto waiter = std::make_shared<Waiter>();
        waiter->log = open_attempt_log(m_options.live_logs, job.id, job.attempt, m_options.log_cap);
        HandlerResult r = run_job(job, cancel, waiter);
        // The job left its process's pending jobs: no line is added to its log any more.
        std::lock_guard<std::mutex> lock(m_mutex);
        r.log = close_attempt_log(m_options.live_logs, waiter->log);
        return r;
    }

private:
    HandlerResult run_job(const Job& job, const std::atomic<bool>& cancel, const std::shared_ptr<Waiter>& waiter) {
        const bool has_deadline = m_options.timeout_ms > 0;
        const std::int64_t deadline_ns = m_clock.steady_ns() + m_options.timeout_ms * 1'000'000;
        const std::string line = stream_job_line(job, has_deadline ? m_clock.now_ms() + m_options.timeout_ms : 0) + "\n";
        waiter->fields = {{"job_id", std::to_string(job.id)}, {"type", job.type}, {"attempt", std::to_string(job.attempt)},
                          {"correlation_id", job.correlation_id}, {"stream", "stderr"}};
        auto expired = [&] { return has_deadline && m_clock.steady_ns() >= deadline_ns; };

        // A live process: the one with the fewest jobs in flight.
        Proc* proc = nullptr;
        std::uint64_t generation = 0;
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            for (;;) {
                for (auto& p : m_procs)
                    if (p->alive && (!proc || p->pending.size() < proc->pending.size())) proc = p.get();
                if (proc) break;
                if (!m_spawn_error.empty()) {
                    HandlerResult r;
                    r.outcome = HandlerResult::Outcome::failure;
                    r.exit_code = 127;
                    r.error = m_spawn_error;
                    return r;
                }
                if (cancel || m_stopping) return cancelled();
                if (expired()) return timed_out();
                m_cv.wait_for(lock, std::chrono::milliseconds(50));
            }
            generation = proc->generation;
            proc->pending[job.id] = waiter;
        }

        switch (write_line(*proc, generation, line, cancel, has_deadline, deadline_ns)) {
            case Write::done:
                break;
            case Write::gone:  // the process ended; its supervisor fails the job
                break;
            case Write::stopped_before: {
                bool was_cancel = cancel;
                give_up(*proc, job.id, was_cancel ? "cancelled" : "timed out");
                return was_cancel ? cancelled() : timed_out();
            }
            case Write::stopped_midway: {
                // Half a line is in its stdin: the stream is unusable, restart the process.
                bool was_cancel = cancel;
                give_up(*proc, job.id, was_cancel ? "cancelled" : "timed out");
                restart(*proc, generation, "it stopped reading its stdin in the middle of a job's line");
                return was_cancel ? cancelled() : timed_out();
            }
        }

        std::unique_lock<std::mutex> lock(waiter->mutex);
        std::int64_t cancel_sent_ns = 0;  // {"cancel": id} sent: the work must end within the cancel grace
        bool timed_out_first = false;     // the cancel was sent for --timeout, not for a cancel
        int signals_sent = 0;
        for (;;) {
            if (waiter->done)
                return !cancel_sent_ns ? std::move(waiter->result) : timed_out_first ? timed_out() : cancelled();
            auto slice = std::chrono::milliseconds(100);
            if (!cancel_sent_ns && (cancel || expired())) {
                timed_out_first = !cancel;
                // The job must stop (its lease may be gone): ask, and stop the process if it
                // does not answer for the job in time (an exec handler would be killed too).
                lock.unlock();
                send_cancel(*proc, job.id);
                lock.lock();
                cancel_sent_ns = m_clock.steady_ns();
                continue;
            }
            if (cancel_sent_ns) {
                const std::int64_t waited_ms = (m_clock.steady_ns() - cancel_sent_ns) / 1'000'000;
                const int due = waited_ms >= m_options.cancel_grace_ms ? 2 : waited_ms * 2 >= m_options.cancel_grace_ms ? 1 : 0;
                if (due > signals_sent) {
                    signals_sent = due;
                    lock.unlock();
                    stop_for_cancel(*proc, generation, job.id, due == 2 ? SIGKILL : SIGTERM);
                    lock.lock();
                    continue;
                }
                // Its supervisor fails the jobs of a stopped process, this one included (and notifies).
                if (signals_sent < 2)
                    slice = std::chrono::milliseconds(std::clamp<std::int64_t>(
                        (signals_sent == 0 ? m_options.cancel_grace_ms / 2 : m_options.cancel_grace_ms) - waited_ms, 1, 100));
            }
            if (has_deadline && !cancel_sent_ns)
                slice = std::min(slice, std::chrono::milliseconds((deadline_ns - m_clock.steady_ns()) / 1'000'000 + 1));
            waiter->cv.wait_for(lock, slice);
        }
    }

private:
    enum class Write { done, gone, stopped_before, stopped_midway };

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

    // Writes a whole line to proc's stdin, unless the job is cancelled or times out before its
    // first byte; a handler that does not read its stdin cannot block us past that.
    Write write_line(Proc& proc, std::uint64_t generation, const std::string& line, const std::atomic<bool>& cancel,
                     bool has_deadline, std::int64_t deadline_ns) {
        std::size_t done = 0;
        auto stop = [&] { return cancel.load() || (has_deadline && m_clock.steady_ns() >= deadline_ns); };
        std::unique_lock<std::timed_mutex> w(proc.write_mutex, std::defer_lock);
        while (!w.try_lock_for(std::chrono::milliseconds(50)))
            if (stop()) return Write::stopped_before;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (proc.generation != generation || !proc.alive) return Write::gone;
        }
        int fd = proc.stdin_fd;
        if (fd < 0) return Write::gone;
        while (done < line.size()) {
            ssize_t n = ::write(fd, line.data() + done, line.size() - done);
            if (n > 0) {
                done += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN) return Write::gone;  // EPIPE: it exited
            if (stop()) return done == 0 ? Write::stopped_before : Write::stopped_midway;
            pollfd pfd{fd, POLLOUT, 0};
            ::poll(&pfd, 1, 50);
        }
        return Write::done;
    }

    // The job no longer waits for its answer (cancelled or timed out before its line was
    // written whole), unless the answer came first.
    void give_up(Proc& proc, std::int64_t id, const char* why) {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = proc.pending.find(id);
        if (it == proc.pending.end()) return;
        {
            std::lock_guard<std::mutex> wl(it->second->mutex);
            if (it->second->done) return;
            it->second->done = true;
        }
        proc.pending.erase(it);
        proc.remember(id, why);
    }

    // {"cancel": id} to proc, the job still waiting for its answer (which ends its work).
    void send_cancel(Proc& proc, std::int64_t id) {
        std::string msg = "{\"cancel\":" + std::to_string(id) + "}\n";
        std::unique_lock<std::timed_mutex> w(proc.write_mutex, std::defer_lock);
        // Never blocking for long: a process that does not read its stdin is stopped anyway.
        if (!w.try_lock_for(std::chrono::milliseconds(20)) || proc.stdin_fd < 0 ||
            ::write(proc.stdin_fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size()))
            log::warn("could not tell the stream handler to cancel a job (its stdin is full); it is stopped if it does not answer",
                      {{"job_id", std::to_string(id)}});
    }

    // The job id was sent {"cancel": id} and not answered within half the cancel grace (SIGTERM)
    // or all of it (SIGKILL): its process (if still that generation) is stopped, and restarted.
    void stop_for_cancel(Proc& proc, std::uint64_t generation, std::int64_t id, int sig) {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (proc.generation != generation || !proc.alive || proc.pid <= 0) return;
        if (!proc.pending.count(id)) return;  // answered meanwhile
        if (sig == SIGTERM) {
            proc.stopped_for = "stopped because it did not answer {\"cancel\": " + std::to_string(id) + "} within " +
                               format_duration_ms(m_options.cancel_grace_ms / 2);
            log::warn("stream handler did not answer a job that must stop; sending SIGTERM, its other jobs in flight fail as crash",
                      {{"job_id", std::to_string(id)}, {"handler_pid", std::to_string(proc.pid)},
                       {"jobs_in_flight", std::to_string(proc.pending.size())}});
        }
        ::kill(-proc.pid, sig);
        ::kill(proc.pid, sig);
    }

    // Kills proc's current process (if still that generation); its supervisor restarts it.
    void restart(Proc& proc, std::uint64_t generation, const std::string& why) {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (proc.generation != generation || !proc.alive || proc.pid <= 0) return;
        if (proc.protocol_error.empty()) proc.protocol_error = why;
        ::kill(-proc.pid, SIGKILL);
        ::kill(proc.pid, SIGKILL);
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
                {
                    std::lock_guard<std::mutex> lock(m_mutex);
                    m_spawn_error = child.error;
                }
                m_cv.notify_all();
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
            }
            {
                std::lock_guard<std::timed_mutex> w(proc.write_mutex);
                proc.stdin_fd = child.stdin_fd;
                if (m_stopping) {  // the destructor closed the previous one and will not see this
                    ::close(proc.stdin_fd);
                    proc.stdin_fd = -1;
                }
            }
            m_cv.notify_all();
            log::debug("stream handler started", {{"handler_pid", std::to_string(child.pid)}, {"handler_proc", std::to_string(proc.index)}});

            read_until_exit(proc, child);
            std::string status = reap(proc, child.pid);

            std::map<std::int64_t, std::shared_ptr<Waiter>> orphans;
            std::string protocol, stopped_for, tail;
            bool stopping, answered;
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                proc.alive = false;
                orphans.swap(proc.pending);
                for (auto& [id, w] : orphans) proc.remember(id, "failed with its process");
                protocol = proc.protocol_error;
                stopped_for = proc.stopped_for;
                tail = proc.stderr_tail;
                stopping = m_stopping;
                answered = proc.answered_any;
            }
            {
                std::lock_guard<std::timed_mutex> w(proc.write_mutex);
                if (proc.stdin_fd >= 0) ::close(proc.stdin_fd);
                proc.stdin_fd = -1;
            }
            ::close(child.stdout_fd);
            ::close(child.stderr_fd);
            for (auto& [id, w] : orphans) {
                HandlerResult r;
                r.outcome = HandlerResult::Outcome::crash;
                if (!protocol.empty()) {
                    r.error_class = "protocol";
                    r.error = "the stream handler broke the protocol (" + protocol + ") and was restarted";
                } else {
                    r.error = "the stream handler " + (stopped_for.empty() ? status : stopped_for + " and " + status) + " before answering";
                    r.ended_by = "stream handler " + status;
                }
                if (!tail.empty()) r.error += "; stderr: " + to_valid_utf8(tail);
                std::lock_guard<std::mutex> wl(w->mutex);
                w->result = std::move(r);
                w->done = true;
                w->cv.notify_all();
            }
            if (stopping) {
                log::debug("stream handler stopped", {{"handler_pid", std::to_string(child.pid)}, {"status", status}});
                return;
            }
            failures = answered ? 1 : failures + 1;
            std::int64_t delay = restart_delay(failures);
            log::Fields f{{"handler_pid", std::to_string(child.pid)}, {"handler_proc", std::to_string(proc.index)},
                          {"unanswered_jobs", std::to_string(orphans.size())}, {"restart_in", format_duration_ms(delay)}};
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

    // Reads stdout (answers) and stderr (log lines) until stdout closes or the process breaks
    // the protocol (then it is killed).
    void read_until_exit(Proc& proc, const SpawnedProcess& child) {
        std::string out, err;
        char buf[65536];
        bool out_open = true, err_open = true;
        std::optional<std::int64_t> stop_seen_ns;
        while (out_open) {
            if (!stop_seen_ns && m_stop_flag) stop_seen_ns = m_clock.steady_ns();
            // Stopping: its stdin is closed; after --grace it is stopped whether it closed stdout or not.
            if (stop_seen_ns && m_clock.steady_ns() - *stop_seen_ns >= m_options.grace_ms * 1'000'000) break;
            pollfd fds[2] = {{child.stdout_fd, POLLIN, 0}, {err_open ? child.stderr_fd : -1, POLLIN, 0}};
            int n = ::poll(fds, 2, 100);
            if (n < 0 && errno != EINTR) break;
            if (n <= 0) continue;
            // Reads what stderr holds now (its pipe is non-blocking).
            auto read_stderr = [&] {
                while (err_open) {
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
                    std::size_t start = 0, nl;
                    while ((nl = out.find('\n', start)) != std::string::npos) {
                        std::string_view line = std::string_view(out).substr(start, nl - start);
                        start = nl + 1;
                        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                        if (line.empty()) continue;
                        if (!answer(proc, line)) return;  // killed; its exit ends the loop next time
                    }
                    out.erase(0, start);
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

    // Logs complete stderr lines (pieces of over-long ones), with the job id when the line
    // starts with "[ID]" for a job this process holds, or when it holds exactly one job.
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
            std::shared_ptr<Waiter> owner;
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

    // Handles one answer line; false after a protocol error (the process is being killed).
    bool answer(Proc& proc, std::string_view line) {
        StreamAnswer parsed;
        try {
            parsed = parse_stream_answer(line);
        } catch (const Error& e) {
            protocol_error(proc, e.what());
            return false;
        }
        const std::int64_t id = parsed.id;
        std::shared_ptr<Waiter> waiter;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
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
            waiter = it->second;
            proc.pending.erase(it);
            proc.remember(id, "answered");
            proc.answered_any = true;
        }
        HandlerResult r = std::move(parsed.result);
        std::lock_guard<std::mutex> wl(waiter->mutex);
        if (waiter->done) return true;  // given up at this very moment
        waiter->result = std::move(r);
        waiter->done = true;
        waiter->cv.notify_all();
        return true;
    }

    // Waits for pid to exit: at once when it crashed, within grace when stopping (then SIGTERM,
    // SIGKILL to its group). What is left of its group is killed. Returns how it ended.
    std::string reap(Proc& proc, int pid) {
        bool stopping;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            stopping = m_stopping;
        }
        int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        auto wait_exit = [&](std::int64_t ms) {
            if (pidfd < 0) {
                for (std::int64_t waited = 0; waited < ms; waited += 10) {
                    siginfo_t info{};
                    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
                        return true;
                    ::usleep(10000);
                }
                return false;
            }
            pollfd pfd{pidfd, POLLIN, 0};
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
        if (pidfd >= 0) ::close(pidfd);
        int status = 0;
        ::waitpid(pid, &status, 0);
        (void)proc;
        if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) return "was killed by " + describe_signal(WTERMSIG(status));
        return "ended";
    }

    StreamHandlerOptions m_options;
    Clock& m_clock;  // job deadlines and the stop grace
    std::vector<std::string> m_env;
    std::mutex m_mutex;
    std::condition_variable m_cv;  // a process started, or stopping
    bool m_stopping = false;
    std::atomic<bool> m_stop_flag{false};  // m_stopping, read without the lock
    std::string m_spawn_error;  // the last start failed (e.g. no such command)
    std::vector<std::unique_ptr<Proc>> m_procs;
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
