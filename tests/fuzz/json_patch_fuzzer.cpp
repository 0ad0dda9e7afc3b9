// JSON Patch (RFC 6902), "A\0B": diff then apply gives B exactly (canonical text, numbers
// exact: the probe found 2^64 - 1 == -1 and 2^53 + 1 == 2^53); B applied to A as a patch is a
// document or Error(bad_input).
#include "fuzz_util.h"

#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/state.h>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    Json a, b;
    if (!fuzz::json_pair(data, size, a, b)) return 0;
    const Json patch = diff_json_patch(a, b);
    const Json back = apply_json_patch(a, patch);
    FUZZ_CHECK(canonical(back) == canonical(b), canonical(a) + " -> " + canonical(b) + " via " + canonical(patch));
    FUZZ_CHECK(json_equal(back, b, JsonEquality::same_text), canonical(b));
    FUZZ_CHECK(json_equal(a, b, JsonEquality::same_text) == patch.empty(), canonical(patch));
    // The patch survives its own text: what state diff prints, state patch reads.
    FUZZ_CHECK(canonical(apply_json_patch(a, parse_bounded_json(canonical(patch), "patch"))) == canonical(b), canonical(patch));
    try {
        (void)canonical(apply_json_patch(a, b));
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::bad_input, e.what());
    }
    return 0;
}
