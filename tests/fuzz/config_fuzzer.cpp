// Config documents and scopes (`wfq config set SCOPE DOC`): "SCOPE\0GLOBAL\0ORG\0REPO". A scope
// is valid or Error(usage); each document is storable or Error(bad_input); the effective config
// is their RFC 7396 merge, most specific last, and merging it again changes nothing.
#include "fuzz_util.h"

#include <wfq/config_cache.h>
#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/state.h>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    auto parts = fuzz::split(fuzz::as_text(data, size), '\0', 4);
    try {
        validate_scope(parts[0]);
        FUZZ_CHECK(parts[0] == "global" || parts[0].rfind("org:", 0) == 0, parts[0]);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::usage, e.what());
    }
    Json merged = Json::object();
    for (std::size_t i = 1; i < parts.size(); ++i) {
        Json doc;
        try {
            doc = parse_storable_json(parts[i], "config");
        } catch (const Error& e) {
            FUZZ_CHECK(e.code() == ErrorCode::bad_input, e.what());
            continue;
        }
        FUZZ_CHECK(!storable_json_problem(doc), parts[i]);
        if (!doc.is_object()) continue;  // `config set` takes objects only
        merged = apply_merge_patch(merged, doc);
        FUZZ_CHECK(canonical(apply_merge_patch(merged, doc)) == canonical(merged), canonical(doc));
    }
    FUZZ_CHECK(merged.is_object(), canonical(merged));
    return 0;
}
