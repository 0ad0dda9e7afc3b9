#include <wfq/clock.h>
#include <wfq/errors.h>

#include <cctype>
#include <cstdlib>
#include <cstdio>
#include <ctime>

namespace wfq {

TimeMs SystemClock::now_ms() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t SystemClock::steady_ns() const {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

SystemClock& SystemClock::instance() {
    static SystemClock clock;
    return clock;
}

TimeMs ManualClock::now_ms() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_now;
}

std::int64_t ManualClock::steady_ns() const { return now_ms() * 1'000'000; }

void ManualClock::advance_ms(std::int64_t ms) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_now += ms;
}

void ManualClock::set_ms(TimeMs t) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_now = t;
}

namespace {

class OffsetFileClock final : public Clock {
public:
    explicit OffsetFileClock(std::string path) : m_path(std::move(path)) {}
    TimeMs now_ms() const override {
        std::int64_t steady = SystemClock::instance().steady_ns();
        std::lock_guard<std::mutex> lock(m_mutex);
        if (steady - m_read_at_ns > 50'000'000 || m_read_at_ns == 0) {
            m_read_at_ns = steady;
            if (FILE* f = std::fopen(m_path.c_str(), "r")) {
                long long v = 0;
                if (std::fscanf(f, "%lld", &v) == 1) m_offset_ms = v;
                std::fclose(f);
            }
        }
        return SystemClock::instance().now_ms() + m_offset_ms;
    }
    std::int64_t steady_ns() const override { return SystemClock::instance().steady_ns(); }

private:
    std::string m_path;
    mutable std::mutex m_mutex;
    mutable std::int64_t m_read_at_ns = 0, m_offset_ms = 0;
};

}  // namespace

Clock* test_clock_from_environment() {
    static OffsetFileClock* clock = [] {
        const char* path = std::getenv("WFQ_TEST_CLOCK_FILE");
        return path && *path ? new OffsetFileClock(path) : nullptr;
    }();
    return clock;
}

DefaultRandom::DefaultRandom() : m_engine(std::random_device{}()) {}
DefaultRandom::DefaultRandom(std::uint64_t seed) : m_engine(seed) {}

double DefaultRandom::uniform() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return std::uniform_real_distribution<double>(0.0, 1.0)(m_engine);
}

std::uint64_t DefaultRandom::next_u64() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_engine();
}

std::string format_time(TimeMs t) {
    std::time_t secs = static_cast<std::time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
    int ms = static_cast<int>(t - static_cast<TimeMs>(secs) * 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

TimeMs parse_time(const std::string& text) {
    int y, mo, d, h, mi, s;
    char sep;
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &s, &consumed) != 7 ||
        (sep != 'T' && sep != 't' && sep != ' ') || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        throw Error(ErrorCode::usage, "invalid time '" + text + "': use RFC 3339, e.g. 2026-11-25T17:00:00Z");
    std::size_t i = static_cast<std::size_t>(consumed);
    int ms = 0;
    if (i < text.size() && text[i] == '.') {
        int digits = 0;
        ++i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            if (digits < 3) ms = ms * 10 + (text[i] - '0');
            ++digits;
            ++i;
        }
        if (digits == 0) throw Error(ErrorCode::usage, "invalid time '" + text + "': empty fraction");
        for (int k = digits; k < 3; ++k) ms *= 10;
    }
    long offset_s = 0;
    if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
        ++i;
    } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        int oh, om;
        if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2 || text.size() != i + 6)
            throw Error(ErrorCode::usage, "invalid time '" + text + "': bad UTC offset");
        offset_s = (oh * 3600L + om * 60L) * (text[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        throw Error(ErrorCode::usage, "invalid time '" + text + "': needs Z or a UTC offset (RFC 3339)");
    }
    if (i != text.size()) throw Error(ErrorCode::usage, "invalid time '" + text + "': trailing text");
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    std::time_t secs = timegm(&tm);
    return (static_cast<TimeMs>(secs) - offset_s) * 1000 + ms;
}

std::string make_uuid(Random& random) {
    std::uint64_t hi = random.next_u64(), lo = random.next_u64();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                  static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buf;
}

}  // namespace wfq
