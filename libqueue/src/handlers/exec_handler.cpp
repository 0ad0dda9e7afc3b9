// The exec handler: one process per attempt, the job's payload on stdin, its result on stdout
// (DESIGN.md, "Handler contract").
#include "exec_handler.h"

#include "process_result.h"

#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/live_log.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>
#include <wfq/worker.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <unistd.h>

namespace wfq {

std::string write_temp_file(const std::string& data) {
    const char* dir = std::getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/tmp") + "/wfq-config-XXXXXX";
    int fd = mkstemp(path.data());
    if (fd < 0) throw Error(ErrorCode::failure, "cannot create a temporary config file in " + path);
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return path;
}

std::optional<std::int64_t> snooze_request(const nlohmann::json& out, std::string& error) {
    if (!out.is_object() || out.size() != 1 || !out.contains("$snooze")) return std::nullopt;
    const auto& v = out["$snooze"];
    try {
        if (!v.is_string()) throw Error(ErrorCode::bad_input, "must be a duration string such as \"30s\"");
        std::int64_t ms = parse_duration_ms(v.get<std::string>());
        if (ms <= 0) throw Error(ErrorCode::bad_input, "must be positive");
        return ms;
    } catch (const std::exception& e) {
        error = std::string("handler asked to snooze with an invalid $snooze: ") + e.what();
        return std::nullopt;
    }
}

namespace {

class ExecHandler final : public Handler {
public:
    explicit ExecHandler(ExecHandlerOptions options) : m_options(std::move(options)) {}

    HandlerResult run(const Job& job, const std::atomic<bool>& cancel) override {
        ProcessSpec spec = handler_process(job, m_options, m_options.command, cancel);
        std::string config_file;
        if (job.config) {
            config_file = write_temp_file(*job.config);
            spec.env.push_back("WFQ_CONFIG_FILE=" + config_file);
        }
        spec.stdin_data = job.payload;
        spec.timeout_ms = m_options.timeout_ms;
        // The job's own log: every stderr line, besides the worker's log (run_process calls
        // on_stderr_line on this thread).
        // It is written while the attempt runs when the worker keeps live logs.
        std::shared_ptr<LiveLog> capture = open_attempt_log(m_options.live_logs, job.id, job.attempt, m_options.log_cap);
        if (m_options.log_cap > 0)
            spec.on_stderr_line = [&capture, logged = std::move(spec.on_stderr_line)](const std::string& line) {
                logged(line);
                capture->add_line(line);
            };
        ProcessResult p = run_process(spec);
        if (!config_file.empty()) ::unlink(config_file.c_str());

        HandlerResult r = handler_result_of(p, m_options.timeout_ms);
        r.log = close_attempt_log(m_options.live_logs, capture);
        if (r.outcome != HandlerResult::Outcome::success) return r;
        if (!p.stdout_truncated && !p.stdout_data.empty() && p.stdout_data.find("$snooze") != std::string::npos) {
            auto out = nlohmann::json::parse(p.stdout_data, nullptr, false);
            std::string snooze_error;
            if (auto snooze = snooze_request(out, snooze_error)) {
                r.outcome = HandlerResult::Outcome::snoozed;
                r.delay_ms = *snooze;
                return r;
            }
            if (!snooze_error.empty()) {  // a malformed {"$snooze": ...}
                r.outcome = HandlerResult::Outcome::failure;
                r.error_class = "bad_output";
                r.error = snooze_error;
                return r;
            }
        }
        // Output the queue cannot keep (over the cap, not JSON, \u0000, too deep): the job
        // still completes, without a result, and the log says why.
        std::string why_not;
        r.output = result_to_keep(p.stdout_data, p.stdout_truncated, why_not);
        if (!why_not.empty()) log::warn(why_not + "; result not kept", {{"job_id", std::to_string(job.id)}});
        return r;
    }

private:
    ExecHandlerOptions m_options;
};

}  // namespace

ProcessSpec handler_process(const Job& job, const ExecHandlerOptions& options, const std::vector<std::string>& command,
                            const std::atomic<bool>& cancel) {
    static const std::vector<std::string> base = current_environment(
        {"WFQ_JOB_ID", "WFQ_JOB_TYPE", "WFQ_QUEUE", "WFQ_ATTEMPT", "WFQ_MAX_ATTEMPTS", "WFQ_SNOOZES", "WFQ_CORRELATION_ID", "WFQ_DB",
         "TRACEPARENT", "TRACESTATE", "WFQ_CONFIG_FILE", "WFQ_STAGE"});
    ProcessSpec spec;
    spec.argv = command;
    spec.base_env = &base;  // the worker's environment, shared by every handler (not copied per job)
    spec.env.reserve(11);
    spec.env.push_back("WFQ_JOB_ID=" + std::to_string(job.id));
    spec.env.push_back("WFQ_JOB_TYPE=" + job.type);
    spec.env.push_back("WFQ_QUEUE=" + job.queue);
    spec.env.push_back("WFQ_ATTEMPT=" + std::to_string(job.attempt));
    spec.env.push_back("WFQ_MAX_ATTEMPTS=" + std::to_string(job.max_attempts));
    spec.env.push_back("WFQ_SNOOZES=" + std::to_string(job.snoozes));
    spec.env.push_back("WFQ_CORRELATION_ID=" + job.correlation_id);
    spec.env.push_back("WFQ_DB=" + options.db_url);
    if (job.traceparent) spec.env.push_back("TRACEPARENT=" + *job.traceparent);  // the attempt's (or stage's) span
    if (job.tracestate) spec.env.push_back("TRACESTATE=" + *job.tracestate);
    spec.kill_grace_ms = options.kill_grace_ms;
    spec.cancel = &cancel;
    std::string id = std::to_string(job.id), type = job.type, attempt = std::to_string(job.attempt),
                correlation = job.correlation_id;
    spec.on_stderr_line = [id, type, attempt, correlation](const std::string& line) {
        log::info(line, {{"job_id", id}, {"type", type}, {"attempt", attempt}, {"correlation_id", correlation},
                         {"stream", "stderr"}});
    };
    return spec;
}

std::unique_ptr<Handler> make_exec_handler(const ExecHandlerOptions& options) {
    if (options.command.empty()) throw Error(ErrorCode::usage, "--exec needs a command");
    return std::make_unique<ExecHandler>(options);
}

}  // namespace wfq
