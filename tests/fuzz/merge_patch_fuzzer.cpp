// JSON Merge Patch (RFC 7396), "A\0B": applying B to A gives a document; the merge diff of A and
// B applied to A gives B whenever B holds no null (a merge patch cannot set one).
#include "fuzz_util.h"

#include <wfq/state.h>

#include <nlohmann/json.hpp>

namespace {

bool holds_null(const wfq::Json& v) {
    std::vector<const wfq::Json*> todo{&v};
    while (!todo.empty()) {
        const wfq::Json* x = todo.back();
        todo.pop_back();
        if (x->is_null()) return true;
        if (x->is_structured())
            for (const auto& child : *x) todo.push_back(&child);
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    Json a, b;
    if (!fuzz::json_pair(data, size, a, b)) return 0;
    (void)canonical(apply_merge_patch(a, b));
    if (!holds_null(b)) {
        const Json patch = diff_merge_patch(a, b);
        const Json back = apply_merge_patch(a, patch);
        FUZZ_CHECK(canonical(back) == canonical(b), canonical(a) + " -> " + canonical(b) + " via " + canonical(patch));
    }
    return 0;
}
