#pragma once
// Shared by the harnesses: a property check that stops the run (libFuzzer keeps the input as a
// crash), splitting one input into parts, and quiet logs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#define FUZZ_CHECK(cond, detail)                                                                              \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            std::fprintf(stderr, "property failed: %s (%s:%d): %s\n", #cond, __FILE__, __LINE__,              \
                         std::string(detail).substr(0, 2000).c_str());                                        \
            std::abort();                                                                                     \
        }                                                                                                     \
    } while (0)

namespace wfq::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// The input cut at each sep into at most max_parts parts (the last one keeps the rest).
inline std::vector<std::string> split(std::string_view text, char sep, std::size_t max_parts) {
    std::vector<std::string> parts;
    while (parts.size() + 1 < max_parts) {
        auto at = text.find(sep);
        if (at == std::string_view::npos) break;
        parts.emplace_back(text.substr(0, at));
        text.remove_prefix(at + 1);
    }
    parts.emplace_back(text);
    return parts;
}

// "A\0B" read as two documents the way wfq reads outside JSON (parse_bounded_json): false when
// the input has no second part or either is refused (which must be Error(bad_input)).
bool json_pair(const std::uint8_t* data, std::size_t size, nlohmann::json& a, nlohmann::json& b);

// Logs off: the code under test warns about what it refuses.
void quiet_logs();

}  // namespace wfq::fuzz
