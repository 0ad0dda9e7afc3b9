#include <wfq/clock.h>
#include <wfq/trace.h>

#include <cstdio>

namespace wfq {
namespace {

bool is_lower_hex(const std::string& s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool all_zero(const std::string& s) { return s.find_first_not_of('0') == std::string::npos; }

std::string random_hex(Random& random, int bytes) {
    std::string out;
    while (static_cast<int>(out.size()) < bytes * 2) {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random.next_u64()));
        out += buf;
    }
    out.resize(bytes * 2);
    if (all_zero(out)) out.back() = '1';
    return out;
}

}  // namespace

std::string TraceContext::to_traceparent() const {
    char flags_hex[3];
    std::snprintf(flags_hex, sizeof flags_hex, "%02x", flags);
    return "00-" + trace_id + "-" + span_id + "-" + flags_hex;
}

std::optional<TraceContext> parse_traceparent(const std::string& header) {
    // version "-" trace-id "-" parent-id "-" trace-flags; future versions may append "-" fields.
    if (header.size() < 55) return std::nullopt;
    std::string version = header.substr(0, 2);
    if (!is_lower_hex(version) || version == "ff") return std::nullopt;
    if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
    std::string trace_id = header.substr(3, 32), span_id = header.substr(36, 16), flags = header.substr(53, 2);
    if (!is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags)) return std::nullopt;
    if (all_zero(trace_id) || all_zero(span_id)) return std::nullopt;
    if (version == "00" && header.size() != 55) return std::nullopt;
    if (version != "00" && header.size() > 55 && header[55] != '-') return std::nullopt;
    TraceContext ctx;
    ctx.trace_id = trace_id;
    ctx.span_id = span_id;
    ctx.flags = static_cast<std::uint8_t>(std::stoi(flags, nullptr, 16));
    return ctx;
}

bool valid_tracestate(const std::string& header) {
    int members = 0;
    std::size_t start = 0;
    while (start <= header.size()) {
        std::size_t comma = header.find(',', start);
        std::string member = header.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        // Optional whitespace around members is allowed; empty members are skipped.
        auto b = member.find_first_not_of(" \t"), e = member.find_last_not_of(" \t");
        if (b != std::string::npos) {
            member = member.substr(b, e - b + 1);
            auto eq = member.find('=');
            if (eq == std::string::npos || eq == 0 || eq > 256) return false;
            std::string key = member.substr(0, eq), value = member.substr(eq + 1);
            for (char c : key)
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/' || c == '@'))
                    return false;
            if (value.empty() || value.size() > 256) return false;
            for (char c : value)
                if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
            if (value.back() == ' ') return false;
            if (++members > 32) return false;
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return true;
}

std::string new_trace_id(Random& random) { return random_hex(random, 16); }
std::string new_span_id(Random& random) { return random_hex(random, 8); }

}  // namespace wfq
