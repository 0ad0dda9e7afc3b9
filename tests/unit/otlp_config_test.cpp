// The standard OpenTelemetry variables (libqueue/src/otlp/otlp_config.cpp).
#include <wfq/errors.h>
#include <wfq/otlp_config.h>

#include <gtest/gtest.h>

#include <map>

#include "test_util.h"

namespace wfq {
namespace {

using wfq::test_util::error_of;

TelemetrySettings read(std::map<std::string, std::string> vars) {
    return telemetry_from_environment([&](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    });
}

TEST(OtlpConfig, NothingSetExportsNothing) {
    TelemetrySettings s = read({});
    EXPECT_EQ(s.otlp.endpoint, "");
    EXPECT_EQ(s.service_name, "wfq");
    EXPECT_FALSE(s.sample_ratio);
    EXPECT_EQ(s.otlp.timeout_ms, 10000);
    EXPECT_EQ(s.otlp.max_queue_size, 2048u);
    EXPECT_EQ(s.otlp.max_batch_size, 512u);
    EXPECT_EQ(s.otlp.schedule_delay_ms, 5000);
    EXPECT_EQ(s.otlp.export_timeout_ms, 30000);
}

TEST(OtlpConfig, BatchSpanProcessorVariables) {
    auto s = read({{"OTEL_BSP_SCHEDULE_DELAY", "250"},
                   {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
                   {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"},
                   {"OTEL_BSP_EXPORT_TIMEOUT", "4000"}});
    EXPECT_EQ(s.otlp.schedule_delay_ms, 250);
    EXPECT_EQ(s.otlp.max_queue_size, 100u);
    EXPECT_EQ(s.otlp.max_batch_size, 10u);
    EXPECT_EQ(s.otlp.export_timeout_ms, 4000);
    EXPECT_EQ(read({{"OTEL_BSP_MAX_QUEUE_SIZE", "5"}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"}}).otlp.max_batch_size, 5u);  // never above the queue
}

TEST(OtlpConfig, EndpointsAsTheSpecificationBuildsThem) {
    EXPECT_EQ(read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}}).otlp.endpoint, "http://collector:4318/v1/traces");
    EXPECT_EQ(read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://c/otlp/"}}).otlp.endpoint, "https://c/otlp/v1/traces");
    // The signal's own endpoint is used as it is, and wins.
    EXPECT_EQ(read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9/x"}}).otlp.endpoint,
              "http://b:9/x");
    std::string m = error_of([] { read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}}); }, ErrorCode::usage);
    EXPECT_NE(m.find("OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL"), std::string::npos) << m;
}

TEST(OtlpConfig, ProtocolHeadersTimeout) {
    auto s = read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                   {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                   {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret , x-tenant=acme"},
                   {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-Tenant=beta"},
                   {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"}});
    EXPECT_EQ(s.otlp.protocol, OtlpProtocol::http_json);
    ASSERT_EQ(s.otlp.headers.size(), 2u);
    EXPECT_EQ(s.otlp.headers[0], (std::pair<std::string, std::string>{"api-key", "s=cret"}));
    EXPECT_EQ(s.otlp.headers[1].second, "beta");  // the traces header replaces the general one
    EXPECT_EQ(s.otlp.timeout_ms, 2500);
    EXPECT_EQ(s.otlp.shutdown_deadline_ms, 2500);  // never longer than a request may take
    EXPECT_EQ(read({{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"}, {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}).otlp.protocol,
              OtlpProtocol::http_protobuf);
    for (auto [name, value, says] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL \"grpc\" is not supported"},
             {"OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "OTEL_EXPORTER_OTLP_TIMEOUT must be a whole number"},
             {"OTEL_EXPORTER_OTLP_HEADERS", "novalue", "OTEL_EXPORTER_OTLP_HEADERS: \"novalue\" is not key=value"},
             {"OTEL_BSP_MAX_QUEUE_SIZE", "0", "OTEL_BSP_MAX_QUEUE_SIZE must be a whole number from 1"},
             {"OTEL_BSP_SCHEDULE_DELAY", "5s", "OTEL_BSP_SCHEDULE_DELAY must be a whole number"},
             {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-1", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE must be a whole number"},
             {"OTEL_BSP_EXPORT_TIMEOUT", "30s", "OTEL_BSP_EXPORT_TIMEOUT must be a whole number"},
             {"OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER \"zipkin\" is not supported"}}) {
        std::string m = error_of([&] { read({{name, value}}); }, ErrorCode::usage);
        EXPECT_NE(m.find(says), std::string::npos) << m;
    }
}

TEST(OtlpConfig, ResourceAndServiceName) {
    auto s = read({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,deployment.environment=prod%20eu"}});
    EXPECT_EQ(s.service_name, "from-attrs");
    ASSERT_EQ(s.resource_attributes.size(), 1u);
    EXPECT_EQ(s.resource_attributes[0].second, "prod eu");
    EXPECT_EQ(read({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=a"}, {"OTEL_SERVICE_NAME", "b"}}).service_name, "b");
}

TEST(OtlpConfig, SamplersAndDisabling) {
    auto a = read({{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0.25"}});
    EXPECT_EQ(*a.sample_ratio, 0.25);
    EXPECT_TRUE(a.parent_based);
    auto b = read({{"OTEL_TRACES_SAMPLER", "always_off"}});
    EXPECT_EQ(*b.sample_ratio, 0.0);
    EXPECT_FALSE(b.parent_based);
    std::string m = error_of([] { read({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "2"}}); }, ErrorCode::usage);
    EXPECT_NE(m.find("OTEL_TRACES_SAMPLER_ARG must be a ratio"), std::string::npos) << m;
    EXPECT_EQ(read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_SDK_DISABLED", "TRUE"}}).otlp.endpoint, "");
    EXPECT_EQ(read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_TRACES_EXPORTER", "none"}}).otlp.endpoint, "");
    EXPECT_NE(read({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_SDK_DISABLED", "false"}}).otlp.endpoint, "");
}

}  // namespace
}  // namespace wfq
