#include <wfq/errors.h>
#include <wfq/json_check.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <vector>

namespace wfq {

using nlohmann::json;

namespace {

const std::string kNulNote = "contains \\u0000 (NUL), which the queue does not store (PostgreSQL's jsonb cannot hold it)";

std::string too_deep() { return "nested more than " + std::to_string(kMaxJsonDepth) + " levels deep"; }

// What one pass over the text finds before parsing: whether arrays and objects nest too deep
// (nlohmann's parser has no limit, and dump(), == and our diff recurse).
struct Scan {
    bool too_deep = false;
};

Scan scan(std::string_view t) {
    Scan s;
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < t.size(); ++i) {
        char c = t[i];
        if (in_string) {
            if (c == '\\') {
                ++i;  // the escaped character (for \u, the hex digits are plain string bytes)
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth) {
                s.too_deep = true;
                return s;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return s;
}

std::string pointer_of(const std::vector<std::string>& path) {
    if (path.empty()) return "the top level";
    std::string p;
    for (const auto& part : path) {
        p += '/';
        for (char c : part) {
            if (c == '~') p += "~0";
            else if (c == '/') p += "~1";
            else p += c;
        }
        if (p.size() > 200) return p.substr(0, 200) + "…";
    }
    return p;
}

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

// Depth-first; the depth check comes first, so the recursion is bounded by kMaxJsonDepth.
std::optional<std::string> problem_in(const json& v, int enclosing, std::vector<std::string>& path) {
    if (v.is_string()) {
        if (has_nul(v.get_ref<const std::string&>())) return "the string at " + pointer_of(path) + " " + kNulNote;
        return std::nullopt;
    }
    if (!v.is_structured()) return std::nullopt;
    if (enclosing + 1 > kMaxJsonDepth) return too_deep() + " (at " + pointer_of(path) + ")";
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (has_nul(it.key()))
                return "the key " + json(it.key()).dump() + " in the object at " + pointer_of(path) + " " + kNulNote;
            path.push_back(it.key());
            if (auto p = problem_in(it.value(), enclosing + 1, path)) return p;
            path.pop_back();
        }
    } else {
        for (std::size_t i = 0; i < v.size(); ++i) {
            path.push_back(std::to_string(i));
            if (auto p = problem_in(v[i], enclosing + 1, path)) return p;
            path.pop_back();
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> storable_json_problem(const json& doc) {
    std::vector<std::string> path;
    return problem_in(doc, 0, path);
}

std::optional<std::string> json_text_problem(std::string_view text, std::size_t max_bytes) {
    if (text.size() > max_bytes) {
        std::string limit = max_bytes >= (std::size_t{1} << 20) ? std::to_string(max_bytes >> 20) + " MiB" : std::to_string(max_bytes >> 10) + " KiB";
        return "is too large (" + std::to_string(text.size()) + " bytes, at most " + limit + ")";
    }
    // nlohmann's lexer takes a NUL byte for the end of the text: what follows one would be
    // ignored, and kept by whoever stores the text as given.
    if (auto nul = text.find('\0'); nul != std::string_view::npos)
        return "has a NUL byte at byte " + std::to_string(nul + 1) + ", which JSON text cannot hold";
    if (scan(text).too_deep) return "is " + too_deep();
    return std::nullopt;
}

json parse_bounded_json(std::string_view text, const std::string& what, std::size_t max_bytes) {
    auto is = [&](const std::string& state) { return Error(ErrorCode::bad_input, what.empty() ? state : what + " is " + state); };
    if (auto problem = json_text_problem(text, max_bytes))
        throw Error(ErrorCode::bad_input, what.empty() ? problem->substr(problem->find(' ') + 1) : what + " " + *problem);
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {  // parse errors, and out_of_range for numbers like 1e400
        throw is(std::string("not valid JSON: ") + e.what());
    }
    return doc;
}

json parse_storable_json(std::string_view text, const std::string& what) {
    // "WHAT is …" and "WHAT: …"; without a name (an NDJSON line, whose number the caller adds)
    // just the problem.
    auto is = [&](const std::string& state) { return Error(ErrorCode::bad_input, what.empty() ? state : what + " is " + state); };
    auto has = [&](const std::string& problem) { return Error(ErrorCode::bad_input, what.empty() ? problem : what + ": " + problem); };
    if (text.compare(0, 3, "\xef\xbb\xbf") == 0)
        throw is("prefixed by a UTF-8 byte order mark (U+FEFF), which PostgreSQL refuses; remove it");
    json doc = parse_bounded_json(text, what, kMaxJsonBytes);
    if (text.find("\\u0000") != std::string_view::npos)
        if (auto problem = storable_json_problem(doc)) throw has(*problem);
    return doc;
}

std::optional<std::string> result_to_keep(const std::string& output, bool truncated, std::string& why_not) {
    why_not.clear();
    if (output.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
    if (truncated) {
        why_not = "handler output exceeds the result cap";
        return std::nullopt;
    }
    try {
        return parse_storable_json(output, "handler output").dump();
    } catch (const Error& e) {
        why_not = e.what();
        return std::nullopt;
    }
}

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    // Runs of bytes that need no escape (nearly all of an id, a name or a span) go in one append.
    std::size_t plain = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default: {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            }
        }
    }
    out.append(s.data() + plain, s.size() - plain);
    out += '"';
}


}  // namespace wfq
