#include <wfq/backoff.h>
#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/gzip.h>
#include <wfq/json_check.h>
#include <wfq/limits.h>
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

constexpr std::size_t kMaxWorkflowBytes = std::size_t{1} << 20;
// No field wfq reads lies deeper than /stages/N/exec/N: deeper values need no line.
constexpr std::size_t kLineDepth = 4;

// The line each value of a (valid) JSON text starts on, by JSON pointer, down to kLineDepth
// levels; for error messages. One pass, memory bounded by the values it records.
std::map<std::string, int> value_lines(std::string_view text) {
    std::map<std::string, int> lines;
    struct Frame {
        bool object;
        std::string path;  // empty below kLineDepth: never looked up
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
            if (!stack.empty()) stack.pop_back();
            continue;
        }
        if (c == '"' && expect_key && !stack.empty()) {
            std::string key;
            for (++i; i < text.size() && text[i] != '"'; ++i) {
                if (text[i] == '\\' && i + 1 < text.size()) ++i;
                if (stack.size() <= kLineDepth) key += text[i];
            }
            stack.back().key = std::move(key);
            expect_key = false;
            continue;
        }
        const bool recorded = stack.size() <= kLineDepth;
        std::string path = recorded ? current_path() : std::string();
        if (recorded) lines.emplace(path, line);
        if (c == '{' || c == '[') {
            stack.push_back({c == '{', std::move(path), 0, {}});
            expect_key = c == '{';
            continue;
        }
        if (c == '"') {
            for (++i; i < text.size() && text[i] != '"'; ++i)
                if (text[i] == '\\') ++i;
            continue;
        }
        while (i + 1 < text.size() && std::string_view(",]} \t\r\n").find(text[i + 1]) == std::string_view::npos) ++i;
    }
    return lines;
}

class WorkflowParser {
public:
    WorkflowParser(const std::string& file_text, std::string name) : m_name(std::move(name)) {
        std::string_view text = file_text;
        // Bounds first: a deep or huge document would cost far more to parse and to map to lines.
        if (auto problem = json_text_problem(text, kMaxWorkflowBytes))
            throw Error(ErrorCode::bad_input, m_name + ": " + *problem);
        // A UTF-8 byte order mark, as some editors write: not part of the JSON (RFC 8259 8.1).
        if (text.compare(0, 3, "\xef\xbb\xbf") == 0) text.remove_prefix(3);
        try {
            m_doc = json::parse(text);
        } catch (const json::parse_error& e) {
            // nlohmann reports a byte offset: turn it into a line.
            std::size_t upto = std::min<std::size_t>(e.byte, text.size());
            int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(upto), '\n'));
            throw Error(ErrorCode::bad_input, m_name + ":" + std::to_string(line) + ": invalid JSON: " + e.what());
        } catch (const json::exception& e) {  // out_of_range: a number like 1e400
            throw Error(ErrorCode::bad_input, m_name + ": invalid JSON: " + e.what());
        }
        m_lines = value_lines(text);
    }

    Workflow parse() {
        Workflow w;
        w.path = m_name;
        if (!m_doc.is_object()) fail("", "a workflow must be a JSON object");
        static const std::set<std::string> known = {"type", "retry", "timeout", "lock_key", "limits", "config", "state", "stages"};
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
            if (m_doc["retry"].contains("max_attempts"))
                w.policy.max_attempts = static_cast<int>(int_at("/retry/max_attempts", 1, 1000));
            if (m_doc["retry"].contains("permanent_exit_codes")) {
                const json& codes = m_doc["retry"]["permanent_exit_codes"];
                if (!codes.is_array()) fail("/retry/permanent_exit_codes", "must be an array of exit codes");
                w.policy.permanent_exit_codes.clear();
                for (std::size_t i = 0; i < codes.size(); ++i) {
                    std::string at = "/retry/permanent_exit_codes/" + std::to_string(i);
                    auto code = integer_in(codes[i], 1, 255);
                    if (!code) fail(at, "must be an exit code 1..255");
                    w.policy.permanent_exit_codes.insert(static_cast<int>(*code));
                }
            }
        }
        w.timeout_ms = duration_at("/timeout");
        w.lock_key = string_at("/lock_key", false);
        if (m_doc.contains("limits")) {
            // Limit key templates (flow control): expanded per job when an attempt starts.
            const json& limits = m_doc["limits"];
            if (!limits.is_array()) fail("/limits", "must be an array of key templates such as \"org:{job.org}\"");
            if (limits.size() > kMaxLimitKeys)
                fail("/limits", "has " + std::to_string(limits.size()) + " keys; at most " + std::to_string(kMaxLimitKeys));
            for (std::size_t i = 0; i < limits.size(); ++i) {
                std::string at = "/limits/" + std::to_string(i);
                std::string tmpl = string_at(at, true);
                if (tmpl.empty()) fail(at, "must not be empty");
                if (auto problem = template_problem(tmpl)) fail(at, *problem);
                w.limits.push_back(std::move(tmpl));
            }
        }
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
            if (st.contains("compress_above"))
                w.state.compress_above = static_cast<std::size_t>(int_at("/state/compress_above", 0, std::int64_t{1} << 40));
            if (st.contains("snapshot_every"))
                w.state.snapshot_every = static_cast<int>(int_at("/state/snapshot_every", 1, 1000000));
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
    // An integer between lo and hi, read without wrapping (4294967297 is not 1, 2^64 - 1 not -1).
    static std::optional<std::int64_t> integer_in(const json& v, std::int64_t lo, std::int64_t hi) {
        if (!v.is_number_integer()) return std::nullopt;
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) return std::nullopt;
        const std::int64_t n = v.get<std::int64_t>();
        if (n < lo || n > hi) return std::nullopt;
        return n;
    }
    std::int64_t int_at(const std::string& pointer, std::int64_t lo, std::int64_t hi) {
        const json* v = at(pointer);
        if (!v || !v->is_number_integer()) fail(pointer, "must be an integer");
        auto n = integer_in(*v, lo, hi);
        if (!n) fail(pointer, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return *n;
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

std::optional<std::string> template_problem(const std::string& tmpl) {
    static const std::set<std::string> job_fields = {"job.id", "job.type", "job.queue", "job.org", "job.repo"};
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] == '}') return "template '" + tmpl + "' has a } without {";
        if (tmpl[i] != '{') continue;
        auto close = tmpl.find('}', i);
        if (close == std::string::npos) return "template '" + tmpl + "' has an unclosed {";
        std::string field = tmpl.substr(i + 1, close - i - 1);
        bool payload = field.rfind("payload.", 0) == 0 && field.size() > 8 && field.back() != '.' &&
                       field.find("..") == std::string::npos;
        if (!payload && !job_fields.count(field))
            return "template '" + tmpl + "': unknown field {" + field + "} ({payload.a.b}, {job.id}, {job.type}, {job.queue}, {job.org}, {job.repo})";
        i = close;
    }
    return std::nullopt;
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

std::optional<std::string> signal_key_problem(const std::string& key) {
    return key.empty() ? std::nullopt : name_problem(key, 1000);
}

std::string prepare_signal(const std::string& event, const std::string& key, const std::string& data) {
    check_name("EVENT", event, 200);
    if (auto problem = signal_key_problem(key)) throw Error(ErrorCode::usage, "--key " + *problem);
    return parse_storable_json(data, "--data").dump();
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
