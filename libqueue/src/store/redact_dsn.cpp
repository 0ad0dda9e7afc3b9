// Passwords out of connection strings, found the way libpq finds them (no regex: a regex engine
// recurses per character and overflows the stack on a long URL).
#include <wfq/store.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace wfq {
namespace {

// [begin, end) of text to hide, and whether "***" goes in quotes: a quoted keyword value may be
// followed by the next keyword with no blank between (`password='a b'sslmode=require`), and a
// bare *** there would run into it.
struct Range {
    std::size_t first, second;
    bool quoted = false;
    bool operator<(const Range& o) const { return first < o.first || (first == o.first && second < o.second); }
};

// isspace() in the C locale, as libpq tests it.
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_word(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ci(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// A URI query keyword as libpq reads it: percent-decoded.
std::string percent_decoded(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Where a keyword=value value ends, as libpq's conninfo_parse reads it: a quoted value runs to
// its closing quote, an unquoted one to the first blank; a backslash escapes the next character
// in both (so `pa\ ss` is one value). An unterminated value runs to the end.
std::size_t keyword_value_end(const std::string& t, std::size_t i) {
    const std::size_t n = t.size();
    if (i < n && t[i] == '\'') {
        for (++i; i < n; ++i) {
            if (t[i] == '\\') ++i;
            else if (t[i] == '\'') return i + 1;
        }
        return n;
    }
    for (; i < n; ++i) {
        if (t[i] == '\\') ++i;
        else if (is_blank(t[i])) return i;
    }
    return n;
}

// The values of the `password` keywords when t parses whole as a libpq keyword string
// (`k = v` pairs separated by blanks); empty when it does not (free text).
std::vector<Range> parsed_password_values(const std::string& t) {
    std::vector<Range> out;
    const std::size_t n = t.size();
    for (std::size_t i = 0;;) {
        while (i < n && is_blank(t[i])) ++i;
        if (i >= n) return out;
        const std::size_t k = i;
        while (i < n && !is_blank(t[i]) && t[i] != '=') ++i;
        const std::string_view key = std::string_view(t).substr(k, i - k);
        while (i < n && is_blank(t[i])) ++i;
        if (i >= n || t[i] != '=') return {};
        ++i;
        while (i < n && is_blank(t[i])) ++i;
        const std::size_t e = keyword_value_end(t, i);
        if (key == "password") out.push_back({i, e});
        if (e <= i && i < n) return {};
        i = std::max(e, i + 1);
    }
}

// Every `password = value` in keyword form (and in free text such as an error message): the
// word password (any case) standing alone, blanks, '=', blanks, then the value. In a keyword
// string, a `password=` inside a password's own value (`password='a password=' dbname=q`) is part
// of that password, not a keyword whose value would run on past it.
void keyword_passwords(const std::string& t, std::vector<Range>& hide) {
    static const std::string_view word = "password";
    const std::vector<Range> values = parsed_password_values(t);
    auto inside_a_value = [&](std::size_t at) {
        return std::any_of(values.begin(), values.end(), [&](const Range& v) { return v.first <= at && at < v.second; });
    };
    for (std::size_t i = 0; i + word.size() <= t.size(); ++i) {
        if ((i > 0 && is_word(t[i - 1])) || !equals_ci(std::string_view(t).substr(i, word.size()), word)) continue;
        if (inside_a_value(i)) continue;
        std::size_t j = i + word.size();
        while (j < t.size() && is_blank(t[j])) ++j;
        if (j >= t.size() || t[j] != '=') continue;
        ++j;
        while (j < t.size() && is_blank(t[j])) ++j;
        const std::size_t end = keyword_value_end(t, j);
        hide.push_back({j, end, j < t.size() && t[j] == '\'' && end < t.size() && !is_blank(t[end])});
    }
}

// The userinfo of a URL starting at `from` (just after "://"): libpq looks ahead for '@' before
// any '/'; the password is what follows the first ':' up to that '@'. In free text a blank ends
// the look-ahead too. A userinfo without ':' holding "password=" (a misplaced query) is hidden
// whole: not a password to libpq, but meant as one. Returns where the host part starts.
std::size_t url_userinfo(const std::string& t, std::size_t from, bool blank_ends, std::vector<Range>& hide) {
    std::size_t at = from;
    while (at < t.size() && t[at] != '@' && t[at] != '/' && !(blank_ends && is_blank(t[at]))) ++at;
    if (at >= t.size() || t[at] != '@') return from;
    std::size_t colon = t.find(':', from);
    if (colon < at) {
        hide.push_back({colon + 1, at});
    } else {
        std::vector<Range> inner;
        keyword_passwords(t.substr(from, at - from), inner);
        if (!inner.empty()) hide.push_back({from, at});
    }
    return at + 1;
}

// A postgresql:// URI's query, `?k=v&k=v`: libpq percent-decodes each keyword, and a value runs
// to the next '&' (blanks included).
void query_passwords(const std::string& t, std::size_t from, std::vector<Range>& hide) {
    std::size_t q = t.find('?', from);
    if (q == std::string::npos) return;
    for (std::size_t k = q + 1; k <= t.size();) {
        std::size_t amp = std::min(t.find('&', k), t.size());
        std::size_t eq = t.find('=', k);
        if (eq < amp && equals_ci(percent_decoded(std::string_view(t).substr(k, eq - k)), "password"))
            hide.push_back({eq + 1, amp});
        k = amp + 1;
    }
}

}  // namespace

std::string redact_dsn(const std::string& dsn) {
    std::vector<Range> hide;
    std::size_t prefix = dsn.rfind("postgresql://", 0) == 0 ? 13 : dsn.rfind("postgres://", 0) == 0 ? 11 : 0;
    if (prefix) {
        // A URI, as libpq parses it (its own prefix, nothing before it).
        query_passwords(dsn, url_userinfo(dsn, prefix, false, hide), hide);
    } else {
        // A keyword string, or any text that may quote one or hold a URL.
        keyword_passwords(dsn, hide);
        for (std::size_t at = dsn.find("://"); at != std::string::npos; at = dsn.find("://", at + 3))
            url_userinfo(dsn, at + 3, true, hide);
    }
    if (hide.empty()) return dsn;
    std::sort(hide.begin(), hide.end());
    std::string out;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < hide.size();) {
        std::size_t begin = hide[i].first, end = hide[i].second;
        const bool quoted = hide[i].quoted;
        for (++i; i < hide.size() && hide[i].first <= end; ++i) end = std::max(end, hide[i].second);
        if (begin < pos) begin = pos;  // (merged ranges never go back)
        out.append(dsn, pos, begin - pos);
        out += quoted ? "'***'" : "***";
        pos = std::max(pos, end);
    }
    out.append(dsn, pos, std::string::npos);
    return out;
}

}  // namespace wfq
