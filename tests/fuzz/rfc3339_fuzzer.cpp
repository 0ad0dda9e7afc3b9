// RFC 3339 times (--run-at, NDJSON run_at): exactly the grammar, or Error(usage); a time taken
// prints back (format_time) as text that parses to the same instant.
#include "fuzz_util.h"

#include <wfq/clock.h>
#include <wfq/errors.h>

#include <cctype>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    const std::string text(fuzz::as_text(data, size));
    TimeMs t;
    try {
        t = parse_time(text);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::usage, e.what());
        return 0;
    }
    // The fixed fields: four-digit year, then - MM - DD, no sign anywhere in the date.
    FUZZ_CHECK(text.size() >= 20, text);
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18})
        FUZZ_CHECK(std::isdigit(static_cast<unsigned char>(text[i])), text);
    const TimeMs first = -62135596800000;  // 0001-01-01T00:00:00Z
    const TimeMs last = 253402300799999;   // 9999-12-31T23:59:59.999Z
    if (t >= first && t <= last) {
        const std::string shown = format_time(t);
        FUZZ_CHECK(parse_time(shown) == t, text + " -> " + shown);
    }
    return 0;
}
