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

namespace {

bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
// days_from_civil): no timegm, which normalises out-of-range fields instead of refusing them.
std::int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

TimeMs parse_time(const std::string& text) {
    // RFC 3339's date-time, exactly: full-date "T" full-time, every field its fixed number of
    // digits (no sign, no padding), a day that exists in its month, Z or a +HH:MM / -HH:MM offset.
    // A space for the T is accepted (RFC 3339 allows it, and `date --rfc-3339` writes one).
    const std::string shown = text.size() > 64 ? text.substr(0, 64) + "..." : text;
    // The words of the SQL API's enqueue() for the same faults (migration 009): the date and
    // time of day share one message; what follows them has its own.
    static const char* const kUseRfc3339 = "use RFC 3339, e.g. 2026-11-25T17:00:00Z";
    static const char* const kBadOffset = "bad UTC offset";
    auto bad = [&](const char* tail) { return Error(ErrorCode::usage, "invalid time '" + shown + "': " + tail); };
    std::size_t i = 0;
    auto digits = [&](std::size_t n, const char* tail) {
        int v = 0;
        for (std::size_t k = 0; k < n; ++k, ++i) {
            if (i >= text.size() || text[i] < '0' || text[i] > '9') throw bad(tail);
            v = v * 10 + (text[i] - '0');
        }
        return v;
    };
    auto expect = [&](char c, const char* tail) {
        if (i >= text.size() || text[i] != c) throw bad(tail);
        ++i;
    };
    const int y = digits(4, kUseRfc3339);
    expect('-', kUseRfc3339);
    const int mo = digits(2, kUseRfc3339);
    expect('-', kUseRfc3339);
    const int d = digits(2, kUseRfc3339);
    if (i >= text.size() || (text[i] != 'T' && text[i] != 't' && text[i] != ' ')) throw bad(kUseRfc3339);
    ++i;
    const int h = digits(2, kUseRfc3339);
    expect(':', kUseRfc3339);
    const int mi = digits(2, kUseRfc3339);
    expect(':', kUseRfc3339);
    const int s = digits(2, kUseRfc3339);
    if (mo < 1 || mo > 12) throw bad(kUseRfc3339);
    if (d < 1 || d > days_in_month(y, mo)) throw bad(kUseRfc3339);
    if (h > 23 || mi > 59 || s > 60) throw bad(kUseRfc3339);
    int ms = 0;
    if (i < text.size() && text[i] == '.') {
        std::size_t count = 0;
        ++i;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++count)
            if (count < 3) ms = ms * 10 + (text[i] - '0');
        if (count == 0) throw bad("empty fraction");
        for (std::size_t k = count; k < 3; ++k) ms *= 10;
    }
    std::int64_t offset_s = 0;
    if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
        ++i;
    } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        const int sign = text[i++] == '+' ? 1 : -1;
        const int oh = digits(2, kBadOffset);
        expect(':', kBadOffset);
        const int om = digits(2, kBadOffset);
        if (oh > 23 || om > 59) throw bad(kBadOffset);
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        throw bad("needs Z or a UTC offset (RFC 3339)");
    }
    if (i != text.size()) throw bad("trailing text");
    // A leap second (:60) counts as the next second, as timegm did.
    const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return (secs - offset_s) * 1000 + ms;
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
