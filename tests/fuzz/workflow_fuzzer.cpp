// Workflow files as `wfq workflow check` and `wfq process --workflow` read them: a workflow or
// Error(bad_input) naming FILE[:LINE], within bounds whatever the text (the probe found a
// crash on 3 bytes, a heap overflow on a byte order mark, 870 MB spent on 40 KB).
#include "fuzz_util.h"

#include <wfq/errors.h>
#include <wfq/pipeline.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    const std::string text(fuzz::as_text(data, size));
    try {
        Workflow w = parse_workflow(text, "w.json");
        FUZZ_CHECK(!w.type.empty() && !w.stages.empty(), text);
        if (w.policy.max_attempts) FUZZ_CHECK(*w.policy.max_attempts >= 1 && *w.policy.max_attempts <= 1000, text);
        for (int code : w.policy.permanent_exit_codes) FUZZ_CHECK(code >= 1 && code <= 255, text);
        FUZZ_CHECK(w.state.snapshot_every >= 1, text);
        for (const auto& s : w.stages) FUZZ_CHECK(s.exec.empty() != s.builtin.empty(), text);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::bad_input, e.what());
        FUZZ_CHECK(std::string(e.what()).rfind("w.json", 0) == 0, e.what());
    }
    return 0;
}
