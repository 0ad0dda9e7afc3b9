// Durations as flags, NDJSON fields, workflow files and snoozes take them: a value in
// [0, kMaxDurationMs] or Error(usage), never a wrapped sum; formatting any of them is safe.
#include "fuzz_util.h"

#include <wfq/duration.h>
#include <wfq/errors.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    const std::string text(fuzz::as_text(data, size));
    std::int64_t ms;
    try {
        ms = parse_duration_ms(text);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::usage, e.what());
        return 0;
    }
    FUZZ_CHECK(ms >= 0 && ms <= kMaxDurationMs, text);
    // What wfq prints for it reads back as the same duration when it is exact (whole units).
    std::string shown = format_duration_ms(ms);
    FUZZ_CHECK(!shown.empty(), text);
    if (ms < 1000 || (ms % 1000 == 0 && shown.find('.') == std::string::npos)) {
        std::int64_t back = parse_duration_ms(shown);
        FUZZ_CHECK(back <= ms, text + " -> " + shown);
    }
    return 0;
}
