#include <wfq/backoff.h>
#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/gzip.h>
#include <wfq/json_check.h>
#include <wfq/lock.h>
#include <wfq/log.h>
#include <wfq/pipeline.h>
#include <wfq/process_runner.h>
#include <wfq/text.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <map>
#include <sstream>

namespace wfq {
namespace {

using nlohmann::json;

// The line each value of a (valid) JSON text starts on, by JSON pointer; for error messages.
std::map<std::string, int> value_lines(const std::string& text) {
    std::map<std::string, int> lines;
    struct Frame {
        bool object;
        std::string path;
        std::size_t index = 0;
        std::string key;
    };
    std::vector<Frame> stack;
    int line = 1;
    auto current_path = [&]() -> std::string {
        if (stack.empty()) return "";
        const Frame& f = stack.back();
        return f.path + "/" + (f.object ? f.key : std::to_string(f.index));
    };
    bool expect_key = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\n') ++line;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ':') continue;
        if (c == ',') {
            if (!stack.empty()) {
                if (stack.back().object) expect_key = true;
                else ++stack.back().index;
            }
            continue;
        }
        if (c == '}' || c == ']') {
            stack.pop_back();
            continue;
        }
        if (c == '"' && expect_key) {
            std::string key;
            for (++i; i < text.size() && text[i] != '"'; ++i) {
                if (text[i] == '\\' && i + 1 < text.size()) ++i;
                key += text[i];
            }
            stack.back().key = key;
            expect_key = false;
            continue;
        }
        std::string path = current_path();
        lines.emplace(path, line);
        if (c == '{' || c == '[') {
            stack.push_back({c == '{', path, 0, {}});
            expect_key = c == '{';
            continue;
        }
        if (c == '"') {
            for (++i; i < text.size() && text[i] != '"'; ++i)
                if (text[i] == '\\') ++i;
            continue;
        }
        while (i + 1 < text.size() && std::string(",]} \t\r\n").find(text[i + 1]) == std::string::npos) ++i;
    }
    return lines;
}

class WorkflowParser {
public:
    WorkflowParser(const std::string& text, std::string name) : m_name(std::move(name)) {
        try {
            m_doc = json::parse(text);
        } catch (const json::parse_error& e) {
            // nlohmann reports a byte offset: turn it into a line.
            std::size_t upto = std::min<std::size_t>(e.byte, text.size());
            int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(upto), '\n'));
            throw Error(ErrorCode::bad_input, m_name + ":" + std::to_string(line) + ": invalid JSON: " + e.what());
        }
        m_lines = value_lines(text);
    }

    Workflow parse() {
        Workflow w;
        w.path = m_name;
        if (!m_doc.is_object()) fail("", "a workflow must be a JSON object");
        static const std::set<std::string> known = {"type", "retry", "timeout", "lock_key", "config", "state", "stages"};
        for (auto it = m_doc.begin(); it != m_doc.end(); ++it)
            if (!known.count(it.key())) fail("/" + it.key(), "unknown field");
        w.type = name_at("/type");
        if (m_doc.contains("retry")) {
            object_at("/retry");
            if (auto p = string_at("/retry/preset", false); !p.empty()) {
                auto preset = backoff_preset(p);
                if (!preset) fail("/retry/preset", "unknown preset '" + p + "'");
                w.policy.backoff = *preset;
            }
            if (m_doc["retry"].contains("max_attempts")) {
                auto n = int_at("/retry/max_attempts");
                if (n < 1 || n > 1000) fail("/retry/max_attempts", "must be between 1 and 1000");
                w.policy.max_attempts = static_cast<int>(n);
            }
            if (m_doc["retry"].contains("permanent_exit_codes")) {
                const json& codes = m_doc["retry"]["permanent_exit_codes"];
                if (!codes.is_array()) fail("/retry/permanent_exit_codes", "must be an array of exit codes");
                w.policy.permanent_exit_codes.clear();
                for (std::size_t i = 0; i < codes.size(); ++i) {
                    if (!codes[i].is_number_integer() || codes[i].get<int>() < 1 || codes[i].get<int>() > 255)
                        fail("/retry/permanent_exit_codes/" + std::to_string(i), "must be an exit code 1..255");
                    w.policy.permanent_exit_codes.insert(codes[i].get<int>());
                }
            }
        }
        w.timeout_ms = duration_at("/timeout");
        w.lock_key = string_at("/lock_key", false);
        if (m_doc.contains("config")) {
            object_at("/config");
            w.config_org = string_at("/config/org", false);
            w.config_repo = string_at("/config/repo", false);
            if (w.config_org.empty() && !w.config_repo.empty()) fail("/config/repo", "needs config.org");
        }
        if (m_doc.contains("state")) {
            object_at("/state");
            const json& st = m_doc["state"];
            if (st.contains("summary")) {
                if (!st["summary"].is_array()) fail("/state/summary", "must be an array of JSON pointers");
                for (std::size_t i = 0; i < st["summary"].size(); ++i) {
                    std::string p = string_at("/state/summary/" + std::to_string(i), true);
                    if (!p.empty() && p[0] != '/') fail("/state/summary/" + std::to_string(i), "a JSON pointer starts with /");
                    w.state.summary.push_back(p);
                }
            }
            if (st.contains("compress_above")) {
                auto n = int_at("/state/compress_above");
                if (n < 0) fail("/state/compress_above", "must not be negative");
                w.state.compress_above = static_cast<std::size_t>(n);
            }
            if (st.contains("snapshot_every")) {
                auto n = int_at("/state/snapshot_every");
                if (n < 1) fail("/state/snapshot_every", "must be at least 1");
                w.state.snapshot_every = static_cast<int>(n);
            }
        }
        if (!m_doc.contains("stages")) fail("/stages", "missing: a workflow needs stages");
        if (!m_doc["stages"].is_array() || m_doc["stages"].empty()) fail("/stages", "must be a non-empty array");
        std::set<std::string> names;
        for (std::size_t i = 0; i < m_doc["stages"].size(); ++i) {
            std::string at = "/stages/" + std::to_string(i);
            object_at(at);
            const json& sj = m_doc["stages"][i];
            for (auto it = sj.begin(); it != sj.end(); ++it)
                if (it.key() != "name" && it.key() != "exec" && it.key() != "builtin" && it.key() != "timeout")
                    fail(at + "/" + it.key(), "unknown field");
            StageSpec s;
            s.name = name_at(at + "/name");
            if (!names.insert(s.name).second) fail(at + "/name", "duplicate stage name '" + s.name + "'");
            if (sj.contains("exec") == sj.contains("builtin")) fail(at, "give exactly one of exec and builtin");
            if (sj.contains("exec")) {
                const json& e = sj["exec"];
                if (!e.is_array() || e.empty()) fail(at + "/exec", "must be a non-empty array of strings (no shell)");
                for (std::size_t k = 0; k < e.size(); ++k) s.exec.push_back(string_at(at + "/exec/" + std::to_string(k), true));
                s.exec_as_written = s.exec;
                auto line = m_lines.find(at + "/exec/0");
                s.exec_line = line == m_lines.end() ? 1 : line->second;
            } else {
                s.builtin = string_at(at + "/builtin", true);
                if (s.builtin != "resolve_config") fail(at + "/builtin", "unknown built-in '" + s.builtin + "' (resolve_config)");
            }
            s.timeout_ms = duration_at(at + "/timeout");
            w.stages.push_back(std::move(s));
        }
        return w;
    }

private:
    [[noreturn]] void fail(const std::string& pointer, const std::string& message) {
        auto it = m_lines.find(pointer);
        std::string field = pointer.empty() ? "(document)" : pointer.substr(1);
        for (auto& c : field)
            if (c == '/') c = '.';
        throw Error(ErrorCode::bad_input, m_name + ":" + std::to_string(it == m_lines.end() ? 1 : it->second) + ": " +
                                              field + ": " + message);
    }
    const json* at(const std::string& pointer) {
        json::json_pointer p(pointer);
        return m_doc.contains(p) ? &m_doc.at(p) : nullptr;
    }
    void object_at(const std::string& pointer) {
        const json* v = at(pointer);
        if (!v || !v->is_object()) fail(pointer, "must be an object");
    }
    std::string string_at(const std::string& pointer, bool required) {
        const json* v = at(pointer);
        if (!v) {
            if (required) fail(pointer, "missing");
            return "";
        }
        if (!v->is_string()) fail(pointer, "must be a string");
        return v->get<std::string>();
    }
    // A job type or stage name: stored with the job, so a name the database keeps alike.
    std::string name_at(const std::string& pointer) {
        std::string name = string_at(pointer, true);
        if (auto problem = name_problem(name, 200)) fail(pointer, *problem);
        return name;
    }
    std::int64_t int_at(const std::string& pointer) {
        const json* v = at(pointer);
        if (!v || !v->is_number_integer()) fail(pointer, "must be an integer");
        return v->get<std::int64_t>();
    }
    std::int64_t duration_at(const std::string& pointer) {
        const json* v = at(pointer);
        if (!v) return 0;
        if (!v->is_string()) fail(pointer, "must be a duration string like \"30s\"");
        try {
            return parse_duration_ms(v->get<std::string>());
        } catch (const Error& e) {
            fail(pointer, e.what());
        }
    }

    std::string m_name;
    json m_doc;
    std::map<std::string, int> m_lines;
};

}  // namespace

Workflow parse_workflow(const std::string& text, const std::string& name) { return WorkflowParser(text, name).parse(); }

Workflow load_workflow(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(ErrorCode::bad_input, "cannot read workflow file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    Workflow w = parse_workflow(ss.str(), path);
    // The directory as the path names it (a symlinked file's own directory, not its target's).
    std::error_code ec;
    std::filesystem::path file = std::filesystem::absolute(path, ec);
    if (ec) throw Error(ErrorCode::bad_input, "cannot resolve workflow file " + path + ": " + ec.message());
    resolve_stage_paths(w, file.lexically_normal().parent_path().string());
    return w;
}

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
}

std::string under(const std::string& dir, const std::string& relative) {
    return (std::filesystem::path(dir) / relative).lexically_normal().string();
}

// The executable a bare command name runs, looked up on PATH as execvp does ("" when none).
std::string on_path(const std::string& name) {
    const char* env = std::getenv("PATH");
    std::string path = env ? env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (true) {
        std::size_t end = path.find(':', start);
        std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
        if (end == std::string::npos) return "";
        start = end + 1;
    }
}

}  // namespace

void resolve_stage_paths(Workflow& w, const std::string& dir) {
    w.dir = dir;
    for (auto& stage : w.stages) {
        for (std::size_t k = 0; k < stage.exec.size(); ++k) {
            std::string& word = stage.exec[k];
            const bool placeholder = word.find("{workflow_dir}") != std::string::npos;
            if (placeholder) word = replace_all(word, "{workflow_dir}", dir);
            if (placeholder || word.empty() || word[0] == '/') continue;
            if (k == 0) {
                if (word.find('/') != std::string::npos) word = under(dir, word);  // a bare name: PATH
            } else if (word[0] != '-') {
                std::error_code ec;
                std::string candidate = under(dir, word);
                if (std::filesystem::is_regular_file(candidate, ec)) word = candidate;
            }
        }
    }
}

std::vector<std::string> stage_command_problems(const Workflow& w) {
    std::vector<std::string> problems;
    for (std::size_t i = 0; i < w.stages.size(); ++i) {
        const StageSpec& s = w.stages[i];
        if (s.exec.empty()) continue;
        const std::string& cmd = s.exec[0];
        const std::string& written = s.exec_as_written.empty() ? cmd : s.exec_as_written[0];
        std::string problem;
        if (cmd.find('/') == std::string::npos) {
            if (on_path(cmd).empty()) problem = "command '" + cmd + "' is not an executable on PATH";
        } else {
            std::string shown = "'" + written + "'" + (written == cmd ? "" : " (" + cmd + ")");
            struct stat st {};
            if (::stat(cmd.c_str(), &st) != 0)
                problem = "command " + shown + (errno == ENOENT ? " does not exist" : std::string(": ") + std::strerror(errno));
            else if (S_ISDIR(st.st_mode))
                problem = "command " + shown + " is a directory";
            else if (!S_ISREG(st.st_mode))
                problem = "command " + shown + " is not a regular file";
            else if (::access(cmd.c_str(), X_OK) != 0)
                problem = "command " + shown + " is not executable (chmod +x it, or name its interpreter first)";
        }
        if (!problem.empty())
            problems.push_back(w.path + ":" + std::to_string(s.exec_line ? s.exec_line : 1) + ": stages." + std::to_string(i) +
                               ".exec.0: stage '" + s.name + "': " + problem);
    }
    return problems;
}

std::string expand_template(const std::string& tmpl, const Job& job) {
    std::string out;
    json payload;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '{') {
            out += tmpl[i];
            continue;
        }
        auto close = tmpl.find('}', i);
        if (close == std::string::npos) throw Error(ErrorCode::bad_input, "template '" + tmpl + "' has an unclosed {");
        std::string field = tmpl.substr(i + 1, close - i - 1);
        i = close;
        auto missing = [&] { return Error(ErrorCode::bad_input, "template field {" + field + "} is missing from job " + std::to_string(job.id)); };
        if (field.rfind("payload.", 0) == 0) {
            if (payload.is_null()) payload = json::parse(job.payload);
            const json* cur = &payload;
            std::stringstream parts(field.substr(8));
            std::string part;
            while (std::getline(parts, part, '.')) {
                if (!cur->is_object() || !cur->contains(part)) throw missing();
                cur = &(*cur)[part];
            }
            out += cur->is_string() ? cur->get<std::string>() : cur->dump();
        } else if (field == "job.id") out += std::to_string(job.id);
        else if (field == "job.type") out += job.type;
        else if (field == "job.queue") out += job.queue;
        else if (field == "job.org") {
            if (!job.org) throw missing();
            out += *job.org;
        } else if (field == "job.repo") {
            if (!job.repo) throw missing();
            out += *job.repo;
        } else
            throw Error(ErrorCode::bad_input, "unknown template field {" + field + "}");
    }
    return out;
}

namespace {

std::optional<std::string> signal_key_problem(const std::string& key) {
    return key.empty() ? std::nullopt : name_problem(key, 1000);
}

}  // namespace

std::string prepare_signal(const std::string& event, const std::string& key, const std::string& data) {
    check_name("EVENT", event, 200);
    if (auto problem = signal_key_problem(key)) throw Error(ErrorCode::usage, "--key " + *problem);
    return parse_storable_json(data, "--data").dump();
}

namespace {

class PipelineHandler final : public Handler {
public:
    PipelineHandler(Store& store, std::vector<Workflow> workflows, ExecHandlerOptions base, Tracer* tracer)
        : m_store(store), m_base(std::move(base)), m_tracer(tracer) {
        for (auto& w : workflows) m_workflows.emplace(w.type, std::move(w));
    }

    HandlerResult run(const Job& job, const std::atomic<bool>& cancel) override {
        HandlerResult r;
        auto wit = m_workflows.find(job.type);
        if (wit == m_workflows.end()) return failure(r, "no workflow for type '" + job.type + "'", "no_workflow", true);
        const Workflow& wf = wit->second;
        JobRef ref{job.id, job.lease_owner.value_or(""), job.attempt};
        std::optional<TraceContext> attempt_ctx;
        if (job.traceparent) attempt_ctx = parse_traceparent(*job.traceparent);

        // Restore where the last attempt stopped.
        std::vector<Checkpoint> checkpoints = m_store.load_checkpoints(job.id);
        json restored;
        try {
            SpanRecord restore = start_span("restore", attempt_ctx);
            restored = checkpoints.empty() ? json::parse(job.payload) : restore_context(checkpoints);
            end_span(restore, r);
        } catch (const Error& e) {
            return failure(r, "job " + std::to_string(job.id) + ": " + e.what(), "corrupt_state", true);
        }
        if (!restored.is_object())
            return failure(r, "job " + std::to_string(job.id) + ": the context is not a JSON object", "corrupt_state", true);
        // Deltas are taken against exactly what restore gives back, so that restore stays exact.
        json previous = checkpoints.empty() ? json() : restored;
        json ctx = std::move(restored);
        ctx["wfq"] = {{"job_id", job.id}, {"attempt", job.attempt}, {"correlation_id", job.correlation_id}, {"type", job.type}};
        int since_snapshot = 0;
        for (const auto& c : checkpoints) since_snapshot = c.kind == "snapshot" ? 0 : since_snapshot + 1;

        if (job.wait_spec) {
            // An unfulfilled wait (its deadline passed, or an operator retried the job): wait
            // again; a signal stored meanwhile resumes it at once.
            json spec = json::parse(*job.wait_spec);
            return wait(spec, r);
        }
        if (job.signal_data) {
            // The signal that ended the last wait. The job keeps it until the next checkpoint
            // holds the context it produced, so every attempt before then (a retry, a rescue,
            // an operator's `jobs retry`) sees exactly the context the first one saw.
            json sd = json::parse(*job.signal_data);
            ctx["signals"][sd.at("event").get<std::string>()] = sd.at("data");
        }

        // Held for the rest of this attempt, released on every way out of it.
        struct LockGuard {
            std::unique_ptr<LockHolder> holder;
            ~LockGuard() {
                try {
                    if (holder) holder->release();
                } catch (...) {
                }
            }
        } lock;
        if (!wf.lock_key.empty()) {
            std::string key;
            try {
                key = expand_template(wf.lock_key, job);
                validate_lock_key(key);
            } catch (const Error& e) {
                return failure(r, e.what(), "bad_input", true);
            }
            auto grant = m_store.lock_acquire(key, ref.lease_owner, 60000);
            if (!grant) {
                r.outcome = HandlerResult::Outcome::deferred;
                r.delay_ms = 1000;
                r.error = "lock key '" + key + "' is busy";
                return r;
            }
            lock.holder = std::make_unique<LockHolder>(m_store, *grant, 60000, [](const std::string&) {});
        }

        const std::int64_t job_deadline = wf.timeout_ms ? SystemClock::instance().steady_ns() / 1'000'000 + wf.timeout_ms : 0;
        // The context is serialised once per stage: the checkpoint's text is the next stdin.
        std::string serialized;
        for (std::size_t i = checkpoints.size(); i < wf.stages.size(); ++i) {
            if (cancel) {
                r.outcome = HandlerResult::Outcome::cancelled;
                break;
            }
            const StageSpec& stage = wf.stages[i];
            m_store.set_current_stage(ref, stage.name);
            SpanRecord span = start_span("stage " + stage.name, attempt_ctx);
            auto t0 = SystemClock::instance().steady_ns();
            if (!stage.builtin.empty()) {
                ctx["config"] = job.config ? json::parse(*job.config) : json(nullptr);
            } else {
                Job stage_job = job;
                stage_job.traceparent = span.context().to_traceparent();
                ProcessSpec spec = handler_process(stage_job, m_base, stage.exec, cancel);
                spec.env.push_back("WFQ_STAGE=" + stage.name);
                spec.stdin_data = serialized.empty() ? canonical(ctx) : std::move(serialized);
                serialized.clear();
                std::int64_t timeout = stage.timeout_ms ? stage.timeout_ms : wf.timeout_ms;
                if (job_deadline) {
                    std::int64_t left = std::max<std::int64_t>(1, job_deadline - SystemClock::instance().steady_ns() / 1'000'000);
                    timeout = timeout ? std::min(timeout, left) : left;
                }
                spec.timeout_ms = timeout;
                spec.stdout_cap = 64 << 20;
                ProcessResult p = run_process(spec);
                std::string where = "stage " + stage.name + ": ";
                if (p.cancelled) {
                    r.outcome = HandlerResult::Outcome::cancelled;
                    span.fail("cancelled");
                    end_span(span, r);
                    break;
                }
                if (p.spawn_failed || p.timed_out || p.term_signal || p.exit_code != 0) {
                    r.outcome = p.timed_out ? HandlerResult::Outcome::timeout
                                : p.term_signal ? HandlerResult::Outcome::crash
                                                : HandlerResult::Outcome::failure;
                    r.exit_code = p.spawn_failed ? 127 : p.exit_code;
                    if (p.term_signal) r.ended_by = "stage " + stage.name + ": " + describe_signal(p.term_signal);
                    else if (p.timed_out) r.ended_by = "stage " + stage.name + ": timeout";
                    r.error = where + (p.spawn_failed ? p.spawn_error
                                       : p.timed_out  ? "timed out" + (p.stderr_tail.empty() ? "" : ": " + p.stderr_tail)
                                       : p.stderr_tail.empty() ? "exit code " + std::to_string(p.exit_code)
                                                               : p.stderr_tail);
                    span.fail(r.error);
                    end_span(span, r);
                    return r;
                }
                json next;
                std::string problem;
                try {
                    if (p.stdout_truncated) problem = "its output exceeds " + std::to_string(spec.stdout_cap >> 20) + " MiB";
                    else next = parse_storable_json(p.stdout_data, "its output");
                } catch (const Error& e) {
                    problem = e.what();  // not JSON, or JSON the queue does not store (\u0000, too deep)
                }
                if (problem.empty() && !next.is_object()) problem = "its output is not a JSON object (the new context)";
                if (!problem.empty()) {
                    span.fail(problem);
                    end_span(span, r);
                    return failure(r, where + problem, "bad_output", false);
                }
                ctx = std::move(next);
            }
            json wait_spec;
            if (ctx.contains("$wait")) {
                wait_spec = ctx["$wait"];
                ctx.erase("$wait");
            }
            r.stage_seconds.push_back(static_cast<double>(SystemClock::instance().steady_ns() - t0) / 1e9);
            end_span(span, r);

            SpanRecord cp_span = start_span("checkpoint " + stage.name, attempt_ctx);
            serialized = canonical(ctx);
            Checkpoint c =
                encode_checkpoint(static_cast<int>(i) + 1, stage.name, previous, ctx, serialized, since_snapshot, wf.state);
            cp_span.set("wfq.checkpoint.kind", c.kind);
            cp_span.set("wfq.checkpoint.raw_bytes", static_cast<std::int64_t>(c.raw_bytes));
            cp_span.set("wfq.checkpoint.stored_bytes", static_cast<std::int64_t>(c.stored_bytes));
            bool stored = m_store.add_checkpoint(ref, c);
            end_span(cp_span, r);
            if (!stored) {
                r.outcome = HandlerResult::Outcome::cancelled;  // the lease is gone
                return r;
            }
            since_snapshot = c.kind == "snapshot" ? 0 : since_snapshot + 1;
            previous = ctx;
            if (!wait_spec.is_null()) {
                serialized.clear();  // the signal's data changes the context
                return wait(wait_spec, r);
            }
        }
        if (r.outcome == HandlerResult::Outcome::cancelled) return r;
        r.outcome = HandlerResult::Outcome::success;
        ctx.erase("wfq");
        r.output = canonical(ctx);
        return r;
    }

private:
    static HandlerResult& failure(HandlerResult& r, const std::string& message, const std::string& error_class, bool permanent) {
        r.outcome = HandlerResult::Outcome::failure;
        r.exit_code = 1;
        r.error = message;
        r.error_class = error_class;
        r.permanent = permanent;
        return r;
    }

    SpanRecord start_span(const std::string& name, const std::optional<TraceContext>& parent) {
        if (m_tracer) return m_tracer->start(name, SpanKind::internal, parent);
        SpanRecord s;
        s.name = name;
        s.start_ns = unix_now_ns();
        s.sampled = false;
        return s;
    }

    static void end_span(SpanRecord& span, HandlerResult& r) {
        span.end_ns = unix_now_ns();
        if (span.sampled) r.spans.push_back(span);
    }

    // Asks to park the job until spec's event ({"event","key","timeout"}). The completer parks
    // it, or resumes it at once when the signal is already stored (the next attempt then finds
    // the signal's data at /signals/EVENT).
    HandlerResult wait(const json& spec, HandlerResult& r) {
        if (!spec.is_object() || !spec.contains("event") || !spec["event"].is_string())
            return failure(r, "a $wait needs {\"event\": NAME, \"key\": KEY, \"timeout\": DURATION}", "bad_output", true);
        std::string event = spec["event"].get<std::string>();
        std::string key = spec.contains("key") ? (spec["key"].is_string() ? spec["key"].get<std::string>() : spec["key"].dump()) : "";
        if (auto problem = name_problem(event, 200)) return failure(r, "$wait event " + *problem, "bad_output", true);
        if (auto problem = signal_key_problem(key)) return failure(r, "$wait key " + *problem, "bad_output", true);
        std::int64_t timeout = 86'400'000;
        try {
            if (spec.contains("timeout")) timeout = parse_duration_ms(spec["timeout"].get<std::string>());
        } catch (const std::exception& e) {
            return failure(r, std::string("$wait timeout: ") + e.what(), "bad_output", true);
        }
        json stored_spec{{"event", event}, {"key", key}, {"timeout", format_duration_ms(timeout)}};
        HandlerResult out = r;
        out.outcome = HandlerResult::Outcome::parked;
        out.wait = HandlerResult::Wait{event, key, stored_spec.dump(), timeout};
        return out;
    }

    Store& m_store;
    std::map<std::string, Workflow> m_workflows;
    ExecHandlerOptions m_base;
    Tracer* m_tracer;
};

}  // namespace

std::unique_ptr<Handler> make_pipeline_handler(Store& store, std::vector<Workflow> workflows, ExecHandlerOptions base,
                                               Tracer* tracer) {
    return std::make_unique<PipelineHandler>(store, std::move(workflows), std::move(base), tracer);
}

void apply_workflows(WorkerOptions& w, const std::vector<Workflow>& workflows) {
    const bool serve_workflow_types = w.types.empty();
    std::map<std::string, Workflow> by_type;
    for (const auto& wf : workflows) {
        if (by_type.count(wf.type)) throw Error(ErrorCode::usage, "two workflow files define type '" + wf.type + "'");
        by_type[wf.type] = wf;
        if (serve_workflow_types) w.types.push_back(wf.type);
        JobPolicy policy = w.policy;
        policy.backoff = wf.policy.backoff;
        if (wf.policy.max_attempts) policy.max_attempts = wf.policy.max_attempts;
        policy.permanent_exit_codes = wf.policy.permanent_exit_codes;
        w.type_policies[wf.type] = policy;
    }
    w.config_scope = [by_type](const Job& job) -> std::pair<std::optional<std::string>, std::optional<std::string>> {
        auto it = by_type.find(job.type);
        if (it == by_type.end() || it->second.config_org.empty()) return {job.org, job.repo};
        try {
            std::optional<std::string> repo;
            if (!it->second.config_repo.empty()) repo = expand_template(it->second.config_repo, job);
            return {expand_template(it->second.config_org, job), repo};
        } catch (const Error&) {
            return {job.org, job.repo};  // a payload without those fields: the job's own scope
        }
    };
}

}  // namespace wfq
