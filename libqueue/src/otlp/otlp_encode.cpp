#include "otlp_encode.h"

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

#include <nlohmann/json.hpp>

namespace wfq::otlp {
namespace {

namespace pb = opentelemetry::proto;

int hex_digit(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

// Ids are lowercase hex (the tracer makes them, parse_traceparent checks them).
std::string hex_bytes(const std::string& hex) {
    std::string out(hex.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
    return out;
}

void add_string(google::protobuf::RepeatedPtrField<pb::common::v1::KeyValue>* attrs, const std::string& key, const std::string& value) {
    auto* kv = attrs->Add();
    kv->set_key(key);
    kv->mutable_value()->set_string_value(value);
}

std::vector<std::pair<std::string, std::string>> resource_attributes(const Resource& resource) {
    std::vector<std::pair<std::string, std::string>> out{{"service.name", resource.service_name},
                                                         {"telemetry.sdk.name", "wfq"},
                                                         {"telemetry.sdk.language", "cpp"},
                                                         {"telemetry.sdk.version", WFQ_TRACER_VERSION}};
    for (const auto& a : resource.attributes)
        if (a.first != "telemetry.sdk.name" && a.first != "telemetry.sdk.language" && a.first != "telemetry.sdk.version")
            out.push_back(a);
    return out;
}

}  // namespace

std::string encode_protobuf(const std::vector<SpanRecord>& spans, const Resource& resource) {
    pb::collector::trace::v1::ExportTraceServiceRequest request;
    auto* rs = request.add_resource_spans();
    for (const auto& [k, v] : resource_attributes(resource)) add_string(rs->mutable_resource()->mutable_attributes(), k, v);
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("wfq");
    ss->mutable_scope()->set_version(WFQ_TRACER_VERSION);
    for (const SpanRecord& s : spans) {
        auto* span = ss->add_spans();
        span->set_trace_id(hex_bytes(s.trace_id));
        span->set_span_id(hex_bytes(s.span_id));
        if (!s.parent_span_id.empty()) span->set_parent_span_id(hex_bytes(s.parent_span_id));
        span->set_flags(s.sampled ? 1u : 0u);
        span->set_name(s.name);
        span->set_kind(static_cast<pb::trace::v1::Span::SpanKind>(static_cast<int>(s.kind)));
        span->set_start_time_unix_nano(static_cast<std::uint64_t>(s.start_ns));
        span->set_end_time_unix_nano(static_cast<std::uint64_t>(s.end_ns));
        for (const auto& [k, v] : s.string_attributes) add_string(span->mutable_attributes(), k, v);
        for (const auto& [k, v] : s.int_attributes) {
            auto* kv = span->add_attributes();
            kv->set_key(k);
            kv->mutable_value()->set_int_value(v);
        }
        for (const auto& l : s.links) {
            auto* link = span->add_links();
            link->set_trace_id(hex_bytes(l.trace_id));
            link->set_span_id(hex_bytes(l.span_id));
            link->set_flags(l.flags);
        }
        if (s.error) {
            span->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
            span->mutable_status()->set_message(s.status_message);
        } else {
            span->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_OK);
        }
    }
    return request.SerializeAsString();
}

std::string json_request(const std::vector<std::string>& span_json, const Resource& resource) {
    nlohmann::json attrs = nlohmann::json::array();
    for (const auto& [k, v] : resource_attributes(resource)) attrs.push_back({{"key", k}, {"value", {{"stringValue", v}}}});
    std::string out = R"({"resourceSpans":[{"resource":{"attributes":)" +
                      attrs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                      R"(},"scopeSpans":[{"scope":{"name":"wfq","version":")" WFQ_TRACER_VERSION R"("},"spans":[)";
    for (std::size_t i = 0; i < span_json.size(); ++i) out += (i ? "," : "") + span_json[i];
    return out + "]}]}]}";
}

std::string encode_json(const std::vector<SpanRecord>& spans, const Resource& resource) {
    std::vector<std::string> lines;
    lines.reserve(spans.size());
    for (const auto& s : spans) lines.push_back(s.to_otlp_json());
    return json_request(lines, resource);
}

std::int64_t rejected_spans(const std::string& body, OtlpProtocol protocol) {
    if (body.empty()) return 0;
    if (protocol == OtlpProtocol::http_protobuf) {
        pb::collector::trace::v1::ExportTraceServiceResponse response;
        if (!response.ParseFromString(body)) return 0;
        return response.partial_success().rejected_spans();
    }
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("partialSuccess") || !j["partialSuccess"].is_object()) return 0;
    const auto& r = j["partialSuccess"].value("rejectedSpans", nlohmann::json());
    if (r.is_number_integer()) return r.get<std::int64_t>();
    if (r.is_string()) return std::strtoll(r.get<std::string>().c_str(), nullptr, 10);
    return 0;
}

}  // namespace wfq::otlp
