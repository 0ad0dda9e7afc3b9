#pragma once
// OTLP trace export as the standard OpenTelemetry environment variables configure it
// (OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER,
// OTEL_SDK_DISABLED, OTEL_BSP_*), read the way the SDKs read them.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wfq {

enum class OtlpProtocol { http_protobuf, http_json };

struct OtlpExportOptions {
    std::string endpoint;  // the traces URL (…/v1/traces); empty: no network export
    OtlpProtocol protocol = OtlpProtocol::http_protobuf;
    std::vector<std::pair<std::string, std::string>> headers;
    int timeout_ms = 10000;  // one request
    // The batch span processor (OTEL_BSP_*).
    std::size_t max_queue_size = 2048;
    std::size_t max_batch_size = 512;
    int schedule_delay_ms = 5000;
    // One batch's export, its retries and their backoff included (a request's own timeout is cut
    // to what is left of it; a backoff that would pass it gives the batch up).
    int export_timeout_ms = 30000;
    int shutdown_deadline_ms = 5000;  // flush on exit within this, whatever the collector does
    int max_attempts = 5;             // per batch, on 429/502/503/504 and network errors
};

struct TelemetrySettings {
    OtlpExportOptions otlp;
    std::string service_name;  // OTEL_SERVICE_NAME, else service.name in the attributes, else "wfq"
    std::vector<std::pair<std::string, std::string>> resource_attributes;  // without service.name
    // OTEL_TRACES_SAMPLER / _ARG when set: the share of root traces sampled, and whether a
    // child follows its parent's decision.
    std::optional<double> sample_ratio;
    bool parent_based = true;
};

// Reads the variables through getenv (tests pass their own). Throws Error(usage) naming the
// variable on a value it cannot use (a protocol other than http/protobuf or http/json, a
// timeout that is not a number of milliseconds, an unknown sampler, a bad ratio).
TelemetrySettings telemetry_from_environment(const std::function<const char*(const char*)>& getenv);

}  // namespace wfq
