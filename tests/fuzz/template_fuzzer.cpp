// Workflow templates ({payload.a.b}, {job.org}, ...) expanded against a job: "TEMPLATE\0PAYLOAD".
// A string or Error(bad_input) naming the field; text outside braces is kept as written.
#include "fuzz_util.h"

#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/pipeline.h>

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wfq;
    auto parts = fuzz::split(fuzz::as_text(data, size), '\0', 2);
    Job job;
    job.id = 7;
    job.type = "t";
    job.queue = "q";
    job.org = "acme";
    job.payload = "{}";
    if (parts.size() > 1) {
        try {
            // Payloads reach the queue through parse_storable_json: only those are stored.
            if (!parse_storable_json(parts[1], "payload").is_object()) return 0;
            job.payload = parts[1];
        } catch (const Error&) {
            return 0;
        }
    }
    // workflow check's verdict (template_problem) agrees with expansion: a template it passes
    // fails only for a field the job lacks, never for its syntax or an unknown field.
    const bool well_formed = !template_problem(parts[0]);
    try {
        const std::string out = expand_template(parts[0], job);
        if (parts[0].find('{') == std::string::npos) FUZZ_CHECK(out == parts[0], parts[0]);
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::bad_input, e.what());
        const std::string what = e.what();
        if (well_formed) FUZZ_CHECK(what.find("is missing from job") != std::string::npos, parts[0] + " -> " + what);
    }
    return 0;
}
