#include <wfq/duration.h>
#include <wfq/errors.h>

namespace wfq {

std::int64_t parse_duration_ms(const std::string& text) {
    auto bad = [&](const std::string& why) {
        std::string shown = text.size() > 64 ? text.substr(0, 64) + "..." : text;
        return Error(ErrorCode::usage, "invalid duration '" + shown + "': " + why + " (use e.g. 250ms, 30s, 5m, 2h, 1d)");
    };
    auto too_large = [&] { return bad("too large (at most " + format_duration_ms(kMaxDurationMs) + ")"); };
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (text.empty()) throw bad("empty");
    if (text == "0") return 0;
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        if (!is_digit(text[i])) throw bad("expected a number");
        std::int64_t n = 0;
        while (i < text.size() && is_digit(text[i])) {
            n = n * 10 + (text[i++] - '0');
            if (n > kMaxDurationMs) throw too_large();  // checked per digit: n * 10 never overflows
        }
        std::size_t unit_start = i;
        while (i < text.size() && is_letter(text[i])) ++i;
        std::string unit = text.substr(unit_start, i - unit_start);
        std::int64_t factor;
        if (unit == "ms") factor = 1;
        else if (unit == "s") factor = 1000;
        else if (unit == "m") factor = 60'000;
        else if (unit == "h") factor = 3'600'000;
        else if (unit == "d") factor = 86'400'000;
        else if (unit.empty()) throw bad("missing unit");
        else throw bad("unknown unit '" + unit + "'");
        // Each part and the running sum stay within the cap, so nothing can wrap.
        if (n > (kMaxDurationMs - total) / factor) throw too_large();
        total += n * factor;
    }
    return total;
}

std::string format_duration_ms(std::int64_t ms) {
    if (ms < 0) return "-" + format_duration_ms(ms == INT64_MIN ? INT64_MAX : -ms);
    if (ms < 1000) return std::to_string(ms) + "ms";
    if (ms < 60'000) {
        std::string s = std::to_string(ms / 1000);
        if (ms % 1000) {
            std::string frac = std::to_string(1000 + ms % 1000).substr(1);
            while (!frac.empty() && frac.back() == '0') frac.pop_back();
            s += "." + frac;
        }
        return s + "s";
    }
    std::string out;
    std::int64_t rest = ms / 1000;
    const std::pair<std::int64_t, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    int parts = 0;
    for (auto [size, name] : units) {
        if (rest >= size && parts < 2) {
            out += std::to_string(rest / size) + name;
            rest %= size;
            ++parts;
        } else if (parts) {
            ++parts;
        }
    }
    return out;
}

}  // namespace wfq
