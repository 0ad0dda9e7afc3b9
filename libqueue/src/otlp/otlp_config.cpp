// The standard OpenTelemetry variables, read as the SDKs read them (the SDK configuration and
// OTLP exporter specifications).
#include <wfq/otlp_config.h>

#include <wfq/errors.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace wfq {
namespace {

std::string trim(const std::string& s) {
    std::size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string percent_decode(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// "key1=value1,key2=value2" (W3C baggage-like, values percent-encoded).
std::vector<std::pair<std::string, std::string>> key_values(const std::string& name, const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        if (trim(item).empty()) continue;
        std::size_t eq = item.find('=');
        std::string key = eq == std::string::npos ? "" : trim(item.substr(0, eq));
        if (key.empty()) throw Error(ErrorCode::usage, name + ": \"" + trim(item) + "\" is not key=value");
        out.emplace_back(percent_decode(key), percent_decode(trim(item.substr(eq + 1))));
    }
    return out;
}

long long whole_number(const std::string& name, const std::string& text, long long low, long long high) {
    std::size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || v < low || v > high)
        throw Error(ErrorCode::usage, name + " must be a whole number from " + std::to_string(low) + " to " +
                                          std::to_string(high) + ", not \"" + text + "\"");
    return v;
}

}  // namespace

TelemetrySettings telemetry_from_environment(const std::function<const char*(const char*)>& getenv) {
    auto var = [&](const char* name) -> std::optional<std::string> {
        const char* v = getenv(name);
        if (!v || !*v) return std::nullopt;
        return trim(v);
    };
    auto first = [&](const char* specific, const char* general) -> std::pair<std::string, std::optional<std::string>> {
        if (auto v = var(specific)) return {specific, v};
        return {general, var(general)};
    };
    TelemetrySettings s;
    OtlpExportOptions& o = s.otlp;

    if (auto [name, v] = first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"); v) {
        if (*v == "http/protobuf") o.protocol = OtlpProtocol::http_protobuf;
        else if (*v == "http/json") o.protocol = OtlpProtocol::http_json;
        else throw Error(ErrorCode::usage, name + " \"" + *v + "\" is not supported: wfq exports http/protobuf or http/json");
    }
    if (auto v = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
        o.endpoint = *v;  // used as it is
    } else if (auto base = var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
        o.endpoint = *base + (base->back() == '/' ? "" : "/") + "v1/traces";
    }
    if (!o.endpoint.empty() && o.endpoint.rfind("http://", 0) != 0 && o.endpoint.rfind("https://", 0) != 0)
        throw Error(ErrorCode::usage, std::string(var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
                                                                                            : "OTEL_EXPORTER_OTLP_ENDPOINT") +
                                          " must be an http:// or https:// URL, not \"" + o.endpoint + "\"");
    for (const char* name : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"})
        if (auto v = var(name))
            for (auto& [k, value] : key_values(name, *v)) {
                const std::string key = lower(k);  // (clang 14 cannot capture a structured binding)
                auto same = std::find_if(o.headers.begin(), o.headers.end(), [&](const auto& h) { return lower(h.first) == key; });
                if (same != o.headers.end()) same->second = value;
                else o.headers.emplace_back(k, value);
            }
    if (auto [name, v] = first("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); v)
        o.timeout_ms = static_cast<int>(whole_number(name, *v, 1, 3600000));
    o.shutdown_deadline_ms = std::min(o.shutdown_deadline_ms, o.timeout_ms);
    if (auto v = var("OTEL_BSP_SCHEDULE_DELAY")) o.schedule_delay_ms = static_cast<int>(whole_number("OTEL_BSP_SCHEDULE_DELAY", *v, 1, 3600000));
    if (auto v = var("OTEL_BSP_MAX_QUEUE_SIZE")) o.max_queue_size = static_cast<std::size_t>(whole_number("OTEL_BSP_MAX_QUEUE_SIZE", *v, 1, 1000000));
    if (auto v = var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"))
        o.max_batch_size = static_cast<std::size_t>(whole_number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", *v, 1, 1000000));
    if (auto v = var("OTEL_BSP_EXPORT_TIMEOUT"))
        o.export_timeout_ms = static_cast<int>(whole_number("OTEL_BSP_EXPORT_TIMEOUT", *v, 1, 3600000));
    o.max_batch_size = std::min(o.max_batch_size, o.max_queue_size);

    if (auto v = var("OTEL_RESOURCE_ATTRIBUTES"))
        for (auto& [k, value] : key_values("OTEL_RESOURCE_ATTRIBUTES", *v)) {
            if (k == "service.name") s.service_name = value;
            else s.resource_attributes.emplace_back(k, value);
        }
    if (auto v = var("OTEL_SERVICE_NAME")) s.service_name = *v;
    if (s.service_name.empty()) s.service_name = "wfq";

    if (auto v = var("OTEL_TRACES_SAMPLER")) {
        const std::string sampler = lower(*v);
        double arg = 1.0;
        if (auto a = var("OTEL_TRACES_SAMPLER_ARG"); a && sampler.find("traceidratio") != std::string::npos) {
            std::size_t used = 0;
            try {
                arg = std::stod(*a, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != a->size() || !(arg >= 0.0 && arg <= 1.0))
                throw Error(ErrorCode::usage, "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, not \"" + *a + "\"");
        }
        if (sampler == "always_on") s.sample_ratio = 1.0, s.parent_based = false;
        else if (sampler == "always_off") s.sample_ratio = 0.0, s.parent_based = false;
        else if (sampler == "traceidratio") s.sample_ratio = arg, s.parent_based = false;
        else if (sampler == "parentbased_always_on") s.sample_ratio = 1.0;
        else if (sampler == "parentbased_always_off") s.sample_ratio = 0.0;
        else if (sampler == "parentbased_traceidratio") s.sample_ratio = arg;
        else
            throw Error(ErrorCode::usage, "OTEL_TRACES_SAMPLER \"" + *v +
                                              "\" is not one of always_on, always_off, traceidratio, parentbased_always_on, "
                                              "parentbased_always_off, parentbased_traceidratio");
    }

    // Disabled: no spans leave over the network (--otlp-file, wfq's own, still writes).
    auto disabled = var("OTEL_SDK_DISABLED");
    auto exporter = var("OTEL_TRACES_EXPORTER");
    if (exporter && lower(*exporter) != "otlp" && lower(*exporter) != "none")
        throw Error(ErrorCode::usage, "OTEL_TRACES_EXPORTER \"" + *exporter + "\" is not supported: wfq exports otlp (or none)");
    if ((disabled && lower(*disabled) == "true") || (exporter && lower(*exporter) == "none")) o.endpoint.clear();
    return s;
}

}  // namespace wfq
