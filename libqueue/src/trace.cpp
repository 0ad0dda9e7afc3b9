#include <wfq/clock.h>
#include <wfq/json_check.h>
#include <wfq/trace.h>

#include <wfq/errors.h>

#include "otlp/batch_span_exporter.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>

namespace wfq {
namespace {

bool is_lower_hex(const std::string& s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool all_zero(const std::string& s) { return s.find_first_not_of('0') == std::string::npos; }

std::string random_hex(Random& random, int bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out(static_cast<std::size_t>(bytes) * 2, '0');
    std::uint64_t r = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {  // every id of every enqueued job: no snprintf
        if (i % 16 == 0) r = random.next_u64();
        out[i] = digits[r & 15];
        r >>= 4;
    }
    if (all_zero(out)) out.back() = '1';
    return out;
}

}  // namespace

std::string TraceContext::to_traceparent() const {
    char flags_hex[3];
    std::snprintf(flags_hex, sizeof flags_hex, "%02x", flags);
    return "00-" + trace_id + "-" + span_id + "-" + flags_hex;
}

std::optional<TraceContext> parse_traceparent(const std::string& header) {
    // version "-" trace-id "-" parent-id "-" trace-flags; future versions may append "-" fields.
    if (header.size() < 55) return std::nullopt;
    std::string version = header.substr(0, 2);
    if (!is_lower_hex(version) || version == "ff") return std::nullopt;
    if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
    std::string trace_id = header.substr(3, 32), span_id = header.substr(36, 16), flags = header.substr(53, 2);
    if (!is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags)) return std::nullopt;
    if (all_zero(trace_id) || all_zero(span_id)) return std::nullopt;
    if (version == "00" && header.size() != 55) return std::nullopt;
    if (version != "00" && header.size() > 55 && header[55] != '-') return std::nullopt;
    TraceContext ctx;
    ctx.trace_id = trace_id;
    ctx.span_id = span_id;
    ctx.flags = static_cast<std::uint8_t>(std::stoi(flags, nullptr, 16));
    return ctx;
}

bool valid_tracestate(const std::string& header) {
    int members = 0;
    std::size_t start = 0;
    while (start <= header.size()) {
        std::size_t comma = header.find(',', start);
        std::string member = header.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        // Optional whitespace around members is allowed; empty members are skipped.
        auto b = member.find_first_not_of(" \t"), e = member.find_last_not_of(" \t");
        if (b != std::string::npos) {
            member = member.substr(b, e - b + 1);
            auto eq = member.find('=');
            if (eq == std::string::npos || eq == 0 || eq > 256) return false;
            std::string key = member.substr(0, eq), value = member.substr(eq + 1);
            for (char c : key)
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/' || c == '@'))
                    return false;
            if (value.empty() || value.size() > 256) return false;
            for (char c : value)
                if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
            if (value.back() == ' ') return false;
            if (++members > 32) return false;
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return true;
}

std::string new_trace_id(Random& random) { return random_hex(random, 16); }
std::string new_span_id(Random& random) { return random_hex(random, 8); }

std::int64_t unix_now_ns() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

void set_messaging_attributes(SpanRecord& span, const std::string& operation, const std::string& queue) {
    span.set("messaging.system", std::string("wfq"));
    span.set("messaging.operation.name", operation);
    span.set("messaging.operation.type", operation);
    if (!queue.empty()) span.set("messaging.destination.name", queue);
}

std::string SpanRecord::to_otlp_json() const {
    using nlohmann::json;
    json attrs = json::array();
    for (const auto& [k, v] : string_attributes) attrs.push_back({{"key", k}, {"value", {{"stringValue", v}}}});
    for (const auto& [k, v] : int_attributes) attrs.push_back({{"key", k}, {"value", {{"intValue", std::to_string(v)}}}});
    json span{{"traceId", trace_id},
              {"spanId", span_id},
              {"name", name},
              {"kind", static_cast<int>(kind)},
              {"startTimeUnixNano", std::to_string(start_ns)},
              {"endTimeUnixNano", std::to_string(end_ns)},
              {"attributes", attrs},
              {"status", error ? json{{"code", 2}, {"message", status_message}} : json{{"code", 1}}}};
    if (!parent_span_id.empty()) span["parentSpanId"] = parent_span_id;
    if (!links.empty()) {
        json out = json::array();
        for (const auto& l : links) out.push_back({{"traceId", l.trace_id}, {"spanId", l.span_id}, {"flags", static_cast<int>(l.flags)}});
        span["links"] = std::move(out);
    }
    // Status messages are handler stderr, cut by bytes: a split character becomes U+FFFD
    // instead of an exception that would leave the job's outcome unrecorded.
    return span.dump(-1, ' ', false, json::error_handler_t::replace);
}

SpanRecord SpanRecord::from_otlp_json(const std::string& text) {
    using nlohmann::json;
    try {
        json j = json::parse(text);
        SpanRecord s;
        s.trace_id = j.at("traceId").get<std::string>();
        s.span_id = j.at("spanId").get<std::string>();
        s.parent_span_id = j.value("parentSpanId", "");
        s.name = j.at("name").get<std::string>();
        s.kind = static_cast<SpanKind>(j.at("kind").get<int>());
        s.start_ns = std::stoll(j.at("startTimeUnixNano").get<std::string>());
        s.end_ns = std::stoll(j.at("endTimeUnixNano").get<std::string>());
        for (const auto& a : j.value("attributes", json::array())) {
            const auto& v = a.at("value");
            if (v.contains("stringValue")) s.string_attributes.emplace_back(a.at("key"), v.at("stringValue"));
            else if (v.contains("intValue")) s.int_attributes.emplace_back(a.at("key"), std::stoll(v.at("intValue").get<std::string>()));
        }
        if (j.contains("status") && j["status"].value("code", 0) == 2) s.fail(j["status"].value("message", ""));
        for (const auto& l : j.value("links", json::array()))
            s.links.push_back({l.at("traceId").get<std::string>(), l.at("spanId").get<std::string>(),
                               static_cast<std::uint8_t>(l.value("flags", 0))});
        return s;
    } catch (const std::exception& e) {
        throw Error(ErrorCode::bad_input, std::string("not a span: ") + e.what());
    }
}

Tracer::Tracer(TracerOptions options, Random& random) : m_options(std::move(options)), m_random(random) {
    if (!(m_options.sample_ratio >= 0.0 && m_options.sample_ratio <= 1.0))
        throw Error(ErrorCode::usage, "--trace-sample must be between 0 and 1");
    if (!m_options.otlp.endpoint.empty())
        m_network = std::make_unique<otlp::BatchSpanExporter>(m_options.otlp,
                                                              otlp::Resource{m_options.service_name, m_options.resource_attributes});
}

Tracer::~Tracer() {
    try {
        flush();
    } catch (...) {
    }
    if (m_network) m_network->shutdown();  // within its deadline
}

TracerExportCounts Tracer::export_counts() const { return m_network ? m_network->counts() : TracerExportCounts{}; }

SpanRecord Tracer::start(const std::string& name, SpanKind kind, const std::optional<TraceContext>& parent) {
    SpanRecord s;
    s.name = name;
    s.kind = kind;
    s.span_id = new_span_id(m_random);
    if (parent && m_options.parent_based) {
        s.trace_id = parent->trace_id;
        s.parent_span_id = parent->span_id;
        s.sampled = parent->sampled();  // parent-based sampling
    } else if (parent) {
        // TraceIdRatioBased: the decision is the trace id's, the same in every process.
        s.trace_id = parent->trace_id;
        s.parent_span_id = parent->span_id;
        const std::uint64_t low = std::stoull(s.trace_id.substr(16), nullptr, 16) & ((1ull << 56) - 1);
        s.sampled = static_cast<double>(low) < m_options.sample_ratio * static_cast<double>(1ull << 56);
    } else {
        s.trace_id = new_trace_id(m_random);
        s.sampled = m_random.uniform() < m_options.sample_ratio;
    }
    s.start_ns = unix_now_ns();
    return s;
}

void Tracer::export_span(const SpanRecord& span) {
    if (!span.sampled) return;
    if (m_network) m_network->add(span);
    if (m_options.otlp_file.empty()) return;
    bool full;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_buffer.push_back(span.to_otlp_json());
        full = m_buffer.size() >= 512;
    }
    if (full) flush();
}

void Tracer::flush() {
    std::vector<std::string> spans;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        spans.swap(m_buffer);
    }
    if (spans.empty() || m_options.otlp_file.empty()) return;
    std::string line = otlp::json_request(spans, {m_options.service_name, m_options.resource_attributes}) + "\n";
    std::ofstream out(m_options.otlp_file, std::ios::app | std::ios::binary);
    if (!out) throw Error(ErrorCode::failure, "cannot write the OTLP file " + m_options.otlp_file);
    out << line;  // one write per flush: concurrent writers append whole lines
}

std::string pack_attempt_spans(const SpanRecord& consumer, const SpanRecord& claim, const std::vector<SpanRecord>& others,
                               const std::string& queue, const std::string& type, int attempt, const std::string& worker,
                               const std::string& outcome) {
    std::string out;
    out.reserve(320);
    out += "{\"v\":1,\"tr\":";
    append_json_string(out, consumer.trace_id);
    out += ",\"p\":";
    append_json_string(out, consumer.parent_span_id);
    out += ",\"s\":";
    append_json_string(out, consumer.span_id);
    out += ",\"c\":";
    append_json_string(out, claim.span_id);
    out += ",\"t\":[" + std::to_string(consumer.start_ns) + "," + std::to_string(claim.end_ns) + "," +
           std::to_string(consumer.end_ns) + "],\"q\":";
    append_json_string(out, queue);
    out += ",\"ty\":";
    append_json_string(out, type);
    out += ",\"a\":" + std::to_string(attempt) + ",\"w\":";
    append_json_string(out, worker);
    out += ",\"o\":";
    append_json_string(out, outcome);
    if (consumer.error) {
        out += ",\"e\":";
        append_json_string(out, consumer.status_message);
    }
    if (!others.empty()) {
        out += ",\"x\":[";
        for (std::size_t i = 0; i < others.size(); ++i) out += (i ? "," : "") + others[i].to_otlp_json();
        out += "]";
    }
    return out + "}";
}

std::vector<std::string> unpack_attempt_spans(const std::string& packed, std::int64_t job_id) {
    using nlohmann::json;
    try {
        json j = json::parse(packed);
        SpanRecord consumer;
        consumer.trace_id = j.at("tr").get<std::string>();
        consumer.parent_span_id = j.at("p").get<std::string>();
        consumer.span_id = j.at("s").get<std::string>();
        const std::string queue = j.at("q").get<std::string>();
        consumer.name = "process " + queue;
        consumer.kind = SpanKind::consumer;
        consumer.start_ns = j.at("t").at(0).get<std::int64_t>();
        consumer.end_ns = j.at("t").at(2).get<std::int64_t>();
        consumer.set("messaging.system", std::string("wfq"));
        consumer.set("messaging.operation.name", std::string("process"));
        consumer.set("messaging.operation.type", std::string("process"));
        consumer.set("messaging.destination.name", queue);
        consumer.set("messaging.message.id", std::to_string(job_id));
        consumer.set("wfq.job.type", j.at("ty").get<std::string>());
        consumer.set("wfq.job.attempt", j.at("a").get<std::int64_t>());
        consumer.set("wfq.worker.id", j.at("w").get<std::string>());
        consumer.set("wfq.outcome", j.at("o").get<std::string>());
        if (j.contains("e")) consumer.fail(j["e"].get<std::string>());
        SpanRecord claim;
        claim.trace_id = consumer.trace_id;
        claim.parent_span_id = consumer.span_id;
        claim.span_id = j.at("c").get<std::string>();
        claim.name = "claim";
        claim.start_ns = consumer.start_ns;
        claim.end_ns = j.at("t").at(1).get<std::int64_t>();
        std::vector<std::string> out{consumer.to_otlp_json(), claim.to_otlp_json()};
        if (j.contains("x"))
            for (const auto& x : j["x"]) out.push_back(x.dump());
        return out;
    } catch (const std::exception& e) {
        throw Error(ErrorCode::bad_input, std::string("not packed spans: ") + e.what());
    }
}

}  // namespace wfq
