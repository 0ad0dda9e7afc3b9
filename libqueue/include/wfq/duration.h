#pragma once
#include <cstdint>
#include <string>

namespace wfq {

// The longest duration wfq takes: 100 years (36500d). Longer ones are typos or overflows, and
// every sum of a time and a duration stays far from the 64-bit limit.
constexpr std::int64_t kMaxDurationMs = std::int64_t{36500} * 86'400'000;

// Parses "250ms", "30s", "5m", "2h", "1d" (and combinations like "1m30s") into milliseconds.
// Throws Error(usage) with the offending text on anything else, including negatives and
// anything over kMaxDurationMs (each part and the sum, so nothing wraps).
std::int64_t parse_duration_ms(const std::string& text);

// Formats milliseconds compactly for humans: "250ms", "1.5s", "3m20s", "2h", "1d3h".
std::string format_duration_ms(std::int64_t ms);

}  // namespace wfq
