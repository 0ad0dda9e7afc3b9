// Cron expressions in time zones, across DST changes: "EXPR\nZONE\n" then 8 bytes of a start
// time. A schedule or Error(usage); next_after is strictly later, finds the first tick after
// any earlier instant, and latest_at_or_before agrees with it.
#include "fuzz_util.h"

#include <wfq/errors.h>
#include <wfq/schedule.h>

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    if (size > 512) return 0;
    auto parts = fuzz::split(fuzz::as_text(data, size), '\n', 3);
    static const char* zones[] = {"UTC", "Europe/Lisbon", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham",
                                  "Asia/Kathmandu", "America/St_Johns", "Antarctica/Troll", "Africa/Casablanca",
                                  "Pacific/Apia", "Europe/Dublin", "America/Santiago"};
    std::string zone = parts.size() > 1 ? parts[1] : "UTC";
    if (zone.size() == 1) zone = zones[static_cast<unsigned char>(zone[0]) % (sizeof zones / sizeof *zones)];
    std::uint64_t raw = 0;
    if (parts.size() > 2) std::memcpy(&raw, parts[2].data(), std::min<std::size_t>(8, parts[2].size()));
    // 1900 to 2200: what a queue schedules.
    const TimeMs lo = -2208988800000, span = 9467280000000;
    const TimeMs t = lo + static_cast<TimeMs>(raw % static_cast<std::uint64_t>(span));
    try {
        CronSchedule cron(parts[0], zone);
        const TimeMs next = cron.next_after(t);
        FUZZ_CHECK(next > t, parts[0] + " in " + zone);
        FUZZ_CHECK(cron.next_after(next - 1) == next, parts[0] + " in " + zone);
        const TimeMs later = next + static_cast<TimeMs>(raw % (3 * 86'400'000ULL));
        auto latest = cron.latest_at_or_before(next, later);
        FUZZ_CHECK(latest && *latest <= later && *latest >= next, parts[0] + " in " + zone);
        FUZZ_CHECK(cron.next_after(*latest) > later, parts[0] + " in " + zone);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::usage, e.what());
    }
    return 0;
}
