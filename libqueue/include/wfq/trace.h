#pragma once
// W3C trace context (https://www.w3.org/TR/trace-context/).
#include <wfq/otlp_config.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

// Unix time in nanoseconds (span timestamps).
std::int64_t unix_now_ns();

enum class SpanKind { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

// One finished (or running) span, convertible to the OTLP protobuf-JSON mapping.
struct SpanRecord {
    std::string trace_id, span_id, parent_span_id, name;
    SpanKind kind = SpanKind::internal;
    std::int64_t start_ns = 0, end_ns = 0;
    std::vector<std::pair<std::string, std::string>> string_attributes;
    std::vector<std::pair<std::string, std::int64_t>> int_attributes;
    bool error = false;
    std::string status_message;
    bool sampled = true;
    std::vector<TraceContext> links;  // spans this one relates to outside its parent (a batch's messages)

    TraceContext context() const { return {trace_id, span_id, static_cast<std::uint8_t>(sampled ? 1 : 0)}; }
    void set(const std::string& key, const std::string& value) { string_attributes.emplace_back(key, value); }
    void set(const std::string& key, std::int64_t value) { int_attributes.emplace_back(key, value); }
    void fail(const std::string& message) {
        error = true;
        status_message = message;
    }
    // The span as OTLP JSON: hex ids, int64 times as strings, kind and status code as integers.
    std::string to_otlp_json() const;
    // Parses what to_otlp_json wrote; throws Error(bad_input) on anything else.
    static SpanRecord from_otlp_json(const std::string& text);
};

// The OpenTelemetry messaging attributes of a wfq span: messaging.system=wfq,
// messaging.operation.name and .type = operation ("create", "send", "process"), and
// messaging.destination.name = queue unless it is empty (a batch across queues).
void set_messaging_attributes(SpanRecord& span, const std::string& operation, const std::string& queue);

// An attempt's spans as stored with its job, compact because every job pays for them: the
// consumer span and its claim child are kept as ids, times and the few fields not derivable
// from the job; other spans (config, pipeline stages) whole. worker and outcome become the
// consumer span's wfq.worker.id and wfq.outcome attributes.
std::string pack_attempt_spans(const SpanRecord& consumer, const SpanRecord& claim, const std::vector<SpanRecord>& others,
                               const std::string& queue, const std::string& type, int attempt, const std::string& worker,
                               const std::string& outcome);
// The spans pack_attempt_spans stored, as OTLP JSON (consumer, claim, then the others), for job
// job_id. Throws Error(bad_input) on anything else.
std::vector<std::string> unpack_attempt_spans(const std::string& packed, std::int64_t job_id);

struct TracerOptions {
    std::string otlp_file;       // append OTLP/JSON lines here; empty: do not export
    double sample_ratio = 1.0;   // for new traces
    bool parent_based = true;    // child spans follow their parent's decision (else: the ratio's, by trace id)
    std::string service_name = "wfq";
    std::vector<std::pair<std::string, std::string>> resource_attributes;  // besides service.name
    OtlpExportOptions otlp;      // OTLP/HTTP to a collector when its endpoint is set
};

// What the network exporter did since the start (all zero without one).
struct TracerExportCounts {
    std::uint64_t exported = 0, dropped_queue_full = 0, dropped_export_failed = 0, rejected = 0;
};

namespace otlp {
class BatchSpanExporter;
}

// Starts and ends spans, and exports sampled ones to an OTLP/JSON lines file (one
// ExportTraceServiceRequest per line, the file exporter's format), buffered and flushed on
// flush(), when the buffer fills, and on destruction; and, when an OTLP endpoint is set, to a
// collector through a batch span processor (never blocking the caller). Thread-safe.
class Tracer {
public:
    Tracer(TracerOptions options, Random& random);
    ~Tracer();
    SpanRecord start(const std::string& name, SpanKind kind, const std::optional<TraceContext>& parent);
    SpanRecord child(const std::string& name, const SpanRecord& parent) { return start(name, SpanKind::internal, parent.context()); }
    void end(SpanRecord& span) { span.end_ns = unix_now_ns(); }
    void export_span(const SpanRecord& span);
    // Whether export_span sends anything (an OTLP file or endpoint is set): attributes that only
    // the export shows need not be built otherwise.
    bool exporting() const { return !m_options.otlp_file.empty() || m_network; }
    bool exporting_to_collector() const { return m_network != nullptr; }
    TracerExportCounts export_counts() const;
    // Writes the file's buffered spans (the collector's batches keep their own schedule).
    void flush();

private:
    TracerOptions m_options;
    std::unique_ptr<otlp::BatchSpanExporter> m_network;
    Random& m_random;
    std::mutex m_mutex;
    std::vector<std::string> m_buffer;
};

}  // namespace wfq
