#pragma once
// W3C trace context (https://www.w3.org/TR/trace-context/).
#include <cstdint>
#include <optional>
#include <string>

namespace wfq {

class Random;

struct TraceContext {
    std::string trace_id;  // 32 lowercase hex
    std::string span_id;   // 16 lowercase hex (the parent span)
    std::uint8_t flags = 0;
    bool sampled() const { return flags & 1; }
    std::string to_traceparent() const;  // version 00
};

// Parses a traceparent header; nullopt when it is invalid per the W3C rules (lengths,
// lowercase hex, all-zero ids, version ff, version 00 with trailing data).
std::optional<TraceContext> parse_traceparent(const std::string& header);

// Validates a tracestate header (list-members key=value, at most 32); false when invalid.
bool valid_tracestate(const std::string& header);

// New random ids.
std::string new_trace_id(Random& random);
std::string new_span_id(Random& random);

}  // namespace wfq
