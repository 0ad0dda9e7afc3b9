#include <wfq/text.h>

#include <cstdio>

namespace wfq {
namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when it is ill-formed
// (the ranges of RFC 3629's table, which exclude overlong forms and surrogates).
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
    auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    auto in = [&](std::size_t k, unsigned lo, unsigned hi) { return k < s.size() && at(k) >= lo && at(k) <= hi; };
    unsigned c = at(i);
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return in(i + 1, 0x80, 0xbf) ? 2 : 0;
    if (c == 0xe0) return in(i + 1, 0xa0, 0xbf) && in(i + 2, 0x80, 0xbf) ? 3 : 0;
    if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return in(i + 1, 0x80, 0xbf) && in(i + 2, 0x80, 0xbf) ? 3 : 0;
    if (c == 0xed) return in(i + 1, 0x80, 0x9f) && in(i + 2, 0x80, 0xbf) ? 3 : 0;
    if (c == 0xf0) return in(i + 1, 0x90, 0xbf) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
    if (c >= 0xf1 && c <= 0xf3) return in(i + 1, 0x80, 0xbf) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
    if (c == 0xf4) return in(i + 1, 0x80, 0x8f) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
    return 0;
}

constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = utf8_sequence(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string to_valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = utf8_sequence(s, i);
        if (n == 0 || s[i] == '\0') {
            out += kReplacement;
            i += 1;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::optional<std::string> name_problem(std::string_view value, std::size_t max_bytes) {
    if (value.empty()) return "must not be empty";
    if (value.size() > max_bytes)
        return "is too long (" + std::to_string(value.size()) + " bytes, at most " + std::to_string(max_bytes) + ")";
    if (!is_valid_utf8(value)) return "is not valid UTF-8";
    for (unsigned char c : value)
        if (c < 0x20 || c == 0x7f) {
            char code[16];
            std::snprintf(code, sizeof code, "U+%04X", c);
            return std::string("must not contain control characters (") + code + ")";
        }
    return std::nullopt;
}

void check_name(const std::string& what, std::string_view value, std::size_t max_bytes, ErrorCode code) {
    if (auto problem = name_problem(value, max_bytes)) throw Error(code, what + " " + *problem);
}

}  // namespace wfq
