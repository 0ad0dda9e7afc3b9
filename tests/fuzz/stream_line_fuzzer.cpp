// One line a stream handler writes (handler -> wfq): an answer or a protocol error (Error), never
// a crash; a kept result is storable JSON.
#include "fuzz_util.h"

#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/stream_handler.h>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    fuzz::quiet_logs();
    const std::string line(fuzz::as_text(data, size));
    StreamAnswer a;
    try {
        a = parse_stream_answer(line);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::bad_input, e.what());
        return 0;
    }
    const HandlerResult& r = a.result;
    if (r.output) FUZZ_CHECK(!storable_json_problem(parse_storable_json(*r.output, "result")), *r.output);
    if (r.outcome == HandlerResult::Outcome::snoozed) FUZZ_CHECK(r.delay_ms > 0, line);
    FUZZ_CHECK(r.error.size() <= 4096 * 3, "error text is capped");
    return 0;
}
