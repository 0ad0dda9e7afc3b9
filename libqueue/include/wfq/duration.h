#pragma once
#include <cstdint>
#include <string>

namespace wfq {

// Parses "250ms", "30s", "5m", "2h", "1d" (and combinations like "1m30s") into milliseconds.
// Throws Error(usage) with the offending text on anything else, including negatives.
std::int64_t parse_duration_ms(const std::string& text);

// Formats milliseconds compactly for humans: "250ms", "1.5s", "3m20s", "2h", "1d3h".
std::string format_duration_ms(std::int64_t ms);

}  // namespace wfq
