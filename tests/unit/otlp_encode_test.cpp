// OTLP encodings of a batch (libqueue/src/otlp/otlp_encode.cpp), read back with the generated
// messages and as JSON.
#include "otlp/otlp_encode.h"

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace wfq::otlp {
namespace {

SpanRecord consumer_span() {
    SpanRecord s;
    s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    s.span_id = "00f067aa0ba902b7";
    s.parent_span_id = "b7ad6b7169203331";
    s.name = "process default";
    s.kind = SpanKind::consumer;
    s.start_ns = 1700000000000000000;
    s.end_ns = 1700000000500000000;
    s.set("messaging.system", std::string("wfq"));
    s.set("wfq.job.attempt", std::int64_t(2));
    s.fail("exit 1");
    return s;
}

TEST(OtlpEncode, ProtobufCarriesIdsKindsAttributesAndResource) {
    std::string bytes = encode_protobuf({consumer_span()}, {"reviews", {{"deployment.environment", "test"}}});
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest r;
    ASSERT_TRUE(r.ParseFromString(bytes));
    ASSERT_EQ(r.resource_spans_size(), 1);
    const auto& resource = r.resource_spans(0).resource();
    std::map<std::string, std::string> attrs;
    for (const auto& kv : resource.attributes()) attrs[kv.key()] = kv.value().string_value();
    EXPECT_EQ(attrs["service.name"], "reviews");
    EXPECT_EQ(attrs["deployment.environment"], "test");
    EXPECT_EQ(attrs["telemetry.sdk.name"], "wfq");
    const auto& span = r.resource_spans(0).scope_spans(0).spans(0);
    EXPECT_EQ(span.trace_id(), std::string("\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16));
    EXPECT_EQ(span.span_id(), std::string("\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 8));
    EXPECT_EQ(span.parent_span_id().size(), 8u);
    EXPECT_EQ(span.kind(), opentelemetry::proto::trace::v1::Span::SPAN_KIND_CONSUMER);
    EXPECT_EQ(span.end_time_unix_nano(), 1700000000500000000u);
    EXPECT_EQ(span.status().code(), opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
    EXPECT_EQ(span.status().message(), "exit 1");
    ASSERT_EQ(span.attributes_size(), 2);
    EXPECT_EQ(span.attributes(1).value().int_value(), 2);
}

TEST(OtlpEncode, JsonIsTheOtlpJsonMapping) {
    auto j = nlohmann::json::parse(encode_json({consumer_span()}, {}));
    const auto& span = j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    EXPECT_EQ(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");  // hex, not base64
    EXPECT_EQ(span["kind"], 5);
    EXPECT_EQ(span["startTimeUnixNano"], "1700000000000000000");
    EXPECT_EQ(j["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "wfq");
}

TEST(OtlpEncode, PartialSuccessIsCountedAndGarbageIgnored) {
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse r;
    r.mutable_partial_success()->set_rejected_spans(3);
    EXPECT_EQ(rejected_spans(r.SerializeAsString(), OtlpProtocol::http_protobuf), 3);
    EXPECT_EQ(rejected_spans(R"({"partialSuccess":{"rejectedSpans":"4"}})", OtlpProtocol::http_json), 4);
    EXPECT_EQ(rejected_spans("<html>bad gateway</html>", OtlpProtocol::http_json), 0);
    EXPECT_EQ(rejected_spans("", OtlpProtocol::http_protobuf), 0);
}

}  // namespace
}  // namespace wfq::otlp
