#include "fuzz_util.h"

#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/log.h>

#include <nlohmann/json.hpp>

namespace wfq::fuzz {

bool json_pair(const std::uint8_t* data, std::size_t size, nlohmann::json& a, nlohmann::json& b) {
    auto parts = split(as_text(data, size), '\0', 2);
    if (parts.size() != 2) return false;
    try {
        a = parse_bounded_json(parts[0], "A");
        b = parse_bounded_json(parts[1], "B");
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == ErrorCode::bad_input, e.what());
        return false;
    }
    return true;
}

void quiet_logs() {
    static const bool done = [] {
        log::configure("off", "text");
        return true;
    }();
    (void)done;
}

}  // namespace wfq::fuzz
