// W3C trace context headers as TRACEPARENT, --traceparent and NDJSON carry them: a context or
// nothing; a version-00 header taken prints back as itself.
#include "fuzz_util.h"

#include <wfq/trace.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    const std::string text(fuzz::as_text(data, size));
    (void)valid_tracestate(text);
    auto ctx = parse_traceparent(text);
    if (!ctx) return 0;
    FUZZ_CHECK(ctx->trace_id.size() == 32 && ctx->span_id.size() == 16, text);
    const std::string back = ctx->to_traceparent();
    if (text.compare(0, 2, "00") == 0) FUZZ_CHECK(back == text, text + " -> " + back);
    FUZZ_CHECK(parse_traceparent(back).has_value(), back);
    return 0;
}
