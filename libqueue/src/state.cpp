#include <wfq/errors.h>
#include <wfq/gzip.h>
#include <wfq/json_check.h>
#include <wfq/state.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace wfq {
namespace {

bool is_negative_integer(const Json& v) { return v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0; }

// An integer (int64 or uint64, as nlohmann holds them) and a double, compared as numbers, with
// no rounding: nlohmann converts the integer to a double first (2^53 + 1 == 2^53.0).
bool integer_equals_double(const Json& integer, double d) {
    if (!std::isfinite(d) || std::trunc(d) != d) return false;
    if (is_negative_integer(integer))
        return d >= -9223372036854775808.0 && d < 0 && static_cast<std::int64_t>(d) == integer.get<std::int64_t>();
    return d >= 0 && d < 18446744073709551616.0 && static_cast<std::uint64_t>(d) == integer.get<std::uint64_t>();
}

bool numbers_equal(const Json& a, const Json& b, JsonEquality mode) {
    const bool af = a.is_number_float(), bf = b.is_number_float();
    if (af && bf) {
        const double x = a.get<double>(), y = b.get<double>();
        return x == y && (mode == JsonEquality::numeric || std::signbit(x) == std::signbit(y));
    }
    if (af != bf) {
        if (mode == JsonEquality::same_text) return false;  // 1 and 1.0 are written differently
        return af ? integer_equals_double(b, a.get<double>()) : integer_equals_double(a, b.get<double>());
    }
    // Both integers: nlohmann compares int64 with uint64 by casting, so 2^64 - 1 == -1.
    if (is_negative_integer(a) != is_negative_integer(b)) return false;
    return is_negative_integer(a) ? a.get<std::int64_t>() == b.get<std::int64_t>() : a.get<std::uint64_t>() == b.get<std::uint64_t>();
}

using Tokens = std::vector<std::string>;

Tokens parse_pointer(const std::string& path) {
    Tokens tokens;
    if (path.empty()) return tokens;
    if (path[0] != '/') throw Error(ErrorCode::bad_input, "JSON pointer '" + path + "' must start with '/'");
    std::size_t start = 1;
    for (;;) {
        std::size_t slash = path.find('/', start);
        std::string raw = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        std::string tok;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '~') {
                if (i + 1 < raw.size() && raw[i + 1] == '0') tok += '~';
                else if (i + 1 < raw.size() && raw[i + 1] == '1') tok += '/';
                else throw Error(ErrorCode::bad_input, "JSON pointer '" + path + "' has a bad ~ escape");
                ++i;
            } else {
                tok += raw[i];
            }
        }
        tokens.push_back(tok);
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return tokens;
}

std::string escape_token(const std::string& t) {
    std::string out;
    for (char c : t) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

// An array index per RFC 6901: digits, no leading zeros; "-" only where allowed (add).
std::size_t array_index(const std::string& tok, std::size_t size, bool allow_end, const std::string& path) {
    if (allow_end && tok == "-") return size;
    if (tok.empty() || tok.size() > 18 || (tok.size() > 1 && tok[0] == '0') ||
        tok.find_first_not_of("0123456789") != std::string::npos)
        throw Error(ErrorCode::bad_input, "'" + tok + "' in '" + path + "' is not an array index");
    std::size_t i = std::stoull(tok);
    if (i > size || (!allow_end && i == size))
        throw Error(ErrorCode::bad_input, "index " + tok + " in '" + path + "' is out of bounds");
    return i;
}

Json& resolve(Json& doc, const Tokens& tokens, std::size_t count, const std::string& path) {
    Json* cur = &doc;
    for (std::size_t i = 0; i < count; ++i) {
        const std::string& t = tokens[i];
        if (cur->is_object()) {
            auto it = cur->find(t);
            if (it == cur->end()) throw Error(ErrorCode::bad_input, "path '" + path + "' does not exist");
            cur = &*it;
        } else if (cur->is_array()) {
            cur = &(*cur)[array_index(t, cur->size(), false, path)];
        } else {
            throw Error(ErrorCode::bad_input, "path '" + path + "' goes through a non-container");
        }
    }
    return *cur;
}

void add_at(Json& doc, const Tokens& tokens, const std::string& path, Json value) {
    if (tokens.empty()) {
        doc = std::move(value);
        return;
    }
    Json& parent = resolve(doc, tokens, tokens.size() - 1, path);
    const std::string& last = tokens.back();
    if (parent.is_object()) parent[last] = std::move(value);
    else if (parent.is_array()) {
        std::size_t i = array_index(last, parent.size(), true, path);
        parent.insert(parent.begin() + static_cast<long>(i), std::move(value));
    } else
        throw Error(ErrorCode::bad_input, "cannot add at '" + path + "': its parent is not an object or array");
}

Json remove_at(Json& doc, const Tokens& tokens, const std::string& path) {
    if (tokens.empty()) throw Error(ErrorCode::bad_input, "cannot remove the whole document");
    Json& parent = resolve(doc, tokens, tokens.size() - 1, path);
    const std::string& last = tokens.back();
    if (parent.is_object()) {
        auto it = parent.find(last);
        if (it == parent.end()) throw Error(ErrorCode::bad_input, "path '" + path + "' does not exist");
        Json v = std::move(*it);
        parent.erase(it);
        return v;
    }
    if (parent.is_array()) {
        std::size_t i = array_index(last, parent.size(), false, path);
        Json v = std::move(parent[i]);
        parent.erase(parent.begin() + static_cast<long>(i));
        return v;
    }
    throw Error(ErrorCode::bad_input, "cannot remove at '" + path + "': its parent is not an object or array");
}

const std::string& member_string(const Json& op, const char* name, std::size_t n) {
    auto it = op.find(name);
    if (it == op.end() || !it->is_string())
        throw Error(ErrorCode::bad_input, "operation " + std::to_string(n) + ": missing or non-string '" + name + "'");
    return it->get_ref<const std::string&>();
}

const Json& member_value(const Json& op, std::size_t n) {
    auto it = op.find("value");
    if (it == op.end()) throw Error(ErrorCode::bad_input, "operation " + std::to_string(n) + ": missing 'value'");
    return *it;
}

bool same(const Json& a, const Json& b) { return json_equal(a, b, JsonEquality::same_text); }

// Recursive, but over documents parsed with a depth limit (kMaxJsonDepth).
void diff_into(const Json& a, const Json& b, const std::string& path, Json& patch) {
    if (same(a, b)) return;
    if (a.is_object() && b.is_object()) {
        for (auto it = a.begin(); it != a.end(); ++it)
            if (!b.contains(it.key())) patch.push_back({{"op", "remove"}, {"path", path + "/" + escape_token(it.key())}});
        for (auto it = b.begin(); it != b.end(); ++it) {
            std::string p = path + "/" + escape_token(it.key());
            auto old = a.find(it.key());
            if (old == a.end()) patch.push_back({{"op", "add"}, {"path", p}, {"value", it.value()}});
            else diff_into(*old, it.value(), p, patch);
        }
        return;
    }
    if (a.is_array() && b.is_array()) {
        std::size_t n = a.size(), m = b.size(), pre = 0, suf = 0;
        while (pre < n && pre < m && same(a[pre], b[pre])) ++pre;
        while (suf < n - pre && suf < m - pre && same(a[n - 1 - suf], b[m - 1 - suf])) ++suf;
        std::size_t old_mid = n - pre - suf, new_mid = m - pre - suf, common = std::min(old_mid, new_mid);
        for (std::size_t i = 0; i < common; ++i) diff_into(a[pre + i], b[pre + i], path + "/" + std::to_string(pre + i), patch);
        for (std::size_t i = common; i < old_mid; ++i)
            patch.push_back({{"op", "remove"}, {"path", path + "/" + std::to_string(pre + common)}});
        for (std::size_t i = common; i < new_mid; ++i)
            patch.push_back({{"op", "add"}, {"path", path + "/" + std::to_string(pre + i)}, {"value", b[pre + i]}});
        return;
    }
    patch.push_back({{"op", "replace"}, {"path", path}, {"value", b}});
}

}  // namespace

bool json_equal(const Json& a, const Json& b, JsonEquality mode) {
    // An explicit stack: no recursion, whatever the depth of what is compared.
    std::vector<std::pair<const Json*, const Json*>> todo{{&a, &b}};
    while (!todo.empty()) {
        auto [x, y] = todo.back();
        todo.pop_back();
        if (x->is_number() && y->is_number()) {
            if (!numbers_equal(*x, *y, mode)) return false;
            continue;
        }
        if (x->type() != y->type() || x->size() != y->size()) return false;
        if (x->is_object()) {
            for (auto i = x->begin(), j = y->begin(); i != x->end(); ++i, ++j) {  // both sorted by key
                if (i.key() != j.key()) return false;
                todo.emplace_back(&i.value(), &j.value());
            }
        } else if (x->is_array()) {
            for (std::size_t i = 0; i < x->size(); ++i) todo.emplace_back(&(*x)[i], &(*y)[i]);
        } else if (*x != *y) {  // strings, booleans, null, binary
            return false;
        }
    }
    return true;
}

Json apply_json_patch(const Json& doc, const Json& patch) {
    if (!patch.is_array()) throw Error(ErrorCode::bad_input, "a JSON Patch must be an array of operations");
    Json result = doc;
    std::size_t n = 0;
    for (const auto& op : patch) {
        ++n;
        if (!op.is_object()) throw Error(ErrorCode::bad_input, "operation " + std::to_string(n) + " is not an object");
        const std::string& name = member_string(op, "op", n);
        const std::string& path = member_string(op, "path", n);
        try {
            Tokens tokens = parse_pointer(path);
            if (name == "add") {
                add_at(result, tokens, path, member_value(op, n));
            } else if (name == "remove") {
                remove_at(result, tokens, path);
            } else if (name == "replace") {
                Json& target = resolve(result, tokens, tokens.size(), path);
                target = member_value(op, n);
            } else if (name == "move") {
                const std::string& from = member_string(op, "from", n);
                if (from == path) {
                    resolve(result, parse_pointer(from), parse_pointer(from).size(), from);  // must exist
                    continue;
                }
                if (path.size() > from.size() && path.compare(0, from.size(), from) == 0 && path[from.size()] == '/')
                    throw Error(ErrorCode::bad_input, "cannot move '" + from + "' into its own child '" + path + "'");
                Json v = remove_at(result, parse_pointer(from), from);
                add_at(result, tokens, path, std::move(v));
            } else if (name == "copy") {
                const std::string& from = member_string(op, "from", n);
                Tokens ft = parse_pointer(from);
                Json v = resolve(result, ft, ft.size(), from);
                add_at(result, tokens, path, std::move(v));
            } else if (name == "test") {
                const Json& want = member_value(op, n);
                if (!json_equal(resolve(result, tokens, tokens.size(), path), want, JsonEquality::numeric))
                    throw Error(ErrorCode::bad_input, "test failed at '" + path + "'");
            } else {
                throw Error(ErrorCode::bad_input, "unknown op '" + name + "'");
            }
        } catch (const Error& e) {
            if (std::string(e.what()).rfind("operation ", 0) == 0) throw;
            throw Error(ErrorCode::bad_input, "operation " + std::to_string(n) + " (" + name + " " + path + "): " + e.what());
        }
    }
    return result;
}

Json diff_json_patch(const Json& a, const Json& b) {
    Json patch = Json::array();
    diff_into(a, b, "", patch);
    return patch;
}

Json apply_merge_patch(const Json& doc, const Json& patch) {
    if (!patch.is_object()) return patch;
    Json result = doc.is_object() ? doc : Json::object();
    for (auto it = patch.begin(); it != patch.end(); ++it) {
        if (it.value().is_null()) result.erase(it.key());
        else result[it.key()] = apply_merge_patch(result.contains(it.key()) ? result[it.key()] : Json(), it.value());
    }
    return result;
}

Json diff_merge_patch(const Json& a, const Json& b) {
    if (!a.is_object() || !b.is_object()) return b;
    Json patch = Json::object();
    for (auto it = a.begin(); it != a.end(); ++it)
        if (!b.contains(it.key())) patch[it.key()] = nullptr;
    for (auto it = b.begin(); it != b.end(); ++it) {
        auto old = a.find(it.key());
        if (old == a.end()) patch[it.key()] = it.value();
        else if (!same(*old, it.value())) patch[it.key()] = diff_merge_patch(*old, it.value());
    }
    return patch;
}

std::string canonical(const Json& doc) { return doc.dump(-1, ' ', false, Json::error_handler_t::strict); }

Json minimal_state(const Json& context, const std::vector<std::string>& pointers) {
    Json out = Json::object();
    for (const auto& p : pointers) {
        try {
            Json copy = context;
            Tokens t = parse_pointer(p);
            out[p] = resolve(copy, t, t.size(), p);
        } catch (const Error&) {
            out[p] = nullptr;
        }
    }
    Json counts = Json::object();
    if (context.is_object())
        for (auto it = context.begin(); it != context.end(); ++it)
            if (it.value().is_array()) counts[it.key()] = it.value().size();
    out["counts"] = counts;
    return out;
}

Checkpoint encode_checkpoint(int seq, const std::string& stage, const Json& previous, const Json& context,
                             int since_snapshot, const StateOptions& options) {
    return encode_checkpoint(seq, stage, previous, context, canonical(context), since_snapshot, options);
}

Checkpoint encode_checkpoint(int seq, const std::string& stage, const Json& previous, const Json& context,
                             const std::string& full, int since_snapshot, const StateOptions& options) {
    Checkpoint c;
    c.seq = seq;
    c.stage = stage;
    std::string body = full;
    c.kind = "snapshot";
    if (!previous.is_null() && since_snapshot + 1 < options.snapshot_every) {
        std::string delta = canonical(diff_json_patch(previous, context));
        if (static_cast<double>(delta.size()) < options.delta_ratio * static_cast<double>(full.size())) {
            body = std::move(delta);
            c.kind = "delta";
        }
    }
    c.raw_bytes = body.size();
    if (body.size() > options.compress_above) {
        c.blob = gzip_compress(body, 6);
        c.gzipped = true;
    } else {
        c.blob = std::move(body);
    }
    c.stored_bytes = c.blob.size();
    c.summary = canonical(minimal_state(context, options.summary));
    return c;
}

Json restore_context(const std::vector<Checkpoint>& checkpoints) {
    if (checkpoints.empty()) return Json();
    std::size_t start = checkpoints.size();
    while (start > 0 && checkpoints[start - 1].kind != "snapshot") --start;
    if (start == 0) throw Error(ErrorCode::bad_input, "checkpoint chain has no snapshot");
    --start;
    Json ctx;
    for (std::size_t i = start; i < checkpoints.size(); ++i) {
        const Checkpoint& c = checkpoints[i];
        try {
            std::string body = c.gzipped ? gzip_decompress(c.blob, kMaxJsonBytes) : c.blob;
            Json parsed = parse_bounded_json(body, "its body");
            ctx = c.kind == "snapshot" ? std::move(parsed) : apply_json_patch(ctx, parsed);
        } catch (const std::exception& e) {
            throw Error(ErrorCode::bad_input, "checkpoint " + std::to_string(c.seq) + " (" + c.stage + ") is corrupt: " + e.what());
        }
    }
    return ctx;
}

}  // namespace wfq
