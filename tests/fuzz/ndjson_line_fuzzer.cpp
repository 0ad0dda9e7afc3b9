// One `wfq enqueue --ndjson` line, as parse_job_line and prepare_new_job take it: whatever the
// line, a job or Error; an accepted job is within every documented bound.
#include "fuzz_util.h"

#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/queue.h>
#include <wfq/trace.h>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    fuzz::quiet_logs();
    std::string line(fuzz::as_text(data, size));
    NewJob defaults;
    defaults.queue = "default";
    NewJob job;
    try {
        job = parse_job_line(line, defaults);
        DefaultRandom random(1);
        std::vector<std::string> warnings;
        prepare_new_job(job, random, &warnings, true);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::bad_input || e.code() == ErrorCode::usage, e.what());
        return 0;
    }
    FUZZ_CHECK(job.priority >= -1000000 && job.priority <= 1000000, line);
    FUZZ_CHECK(job.max_attempts >= 1 && job.max_attempts <= 1000, line);
    FUZZ_CHECK(job.delay_ms >= 0 && job.delay_ms <= kMaxDurationMs, line);
    FUZZ_CHECK(line.find('\0') == std::string::npos, "a line with a NUL byte was taken");
    // The payload stored is JSON the queue can store, an object.
    nlohmann::json payload = parse_storable_json(job.payload, "payload");
    FUZZ_CHECK(payload.is_object(), job.payload);
    FUZZ_CHECK(job.traceparent && parse_traceparent(*job.traceparent), line);
    return 0;
}
