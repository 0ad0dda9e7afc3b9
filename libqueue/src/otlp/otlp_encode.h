#pragma once
// Internal: a batch of spans as one OTLP ExportTraceServiceRequest, in the protobuf encoding
// (from the vendored opentelemetry-proto definitions, compiled at build time) or the OTLP JSON
// mapping (hex ids, as the file exporter writes).
#include <wfq/otlp_config.h>
#include <wfq/trace.h>

#include <string>
#include <utility>
#include <vector>

namespace wfq::otlp {

struct Resource {
    std::string service_name = "wfq";
    std::vector<std::pair<std::string, std::string>> attributes;  // besides service.name
};

std::string encode_protobuf(const std::vector<SpanRecord>& spans, const Resource& resource);
std::string encode_json(const std::vector<SpanRecord>& spans, const Resource& resource);
// The JSON of one ExportTraceServiceRequest around spans already in OTLP JSON (the file's lines).
std::string json_request(const std::vector<std::string>& span_json, const Resource& resource);
// An ExportTraceServiceResponse's partial_success.rejected_spans (0 when there is none or the
// body is not one: a collector's answer is information, not a reason to fail).
std::int64_t rejected_spans(const std::string& body, OtlpProtocol protocol);

}  // namespace wfq::otlp
