#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/limits.h>
#include <wfq/queue.h>
#include <wfq/text.h>
#include <wfq/trace.h>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace wfq {

using nlohmann::json;

Failure decide_failure(const Job& job, const JobPolicy& policy, const std::string& error_class,
                       const std::string& message, bool permanent, Random& random) {
    int max_attempts = policy.max_attempts.value_or(job.max_attempts);
    Failure f{error_class, message, std::nullopt};
    if (!permanent && job.attempt < max_attempts) f.retry_in_ms = policy.backoff.delay_ms(job.attempt - 1, random);
    return f;
}

namespace {

constexpr std::size_t kMaxName = 200;
constexpr std::size_t kMaxKey = 1000;
constexpr std::int64_t kMinPriority = -1000000, kMaxPriority = 1000000, kMaxAttempts = 1000;

}  // namespace

void prepare_new_job(NewJob& job, Random& random, std::vector<std::string>* warnings, bool payload_checked) {
    check_name("job type", job.type, kMaxName, ErrorCode::usage);
    check_name("queue", job.queue, kMaxName, ErrorCode::usage);
    for (auto* field : {&job.key, &job.lock_key, &job.org, &job.repo})
        if (*field) check_name(field == &job.key ? "key" : field == &job.lock_key ? "lock key" : field == &job.org ? "org" : "repo",
                               **field, kMaxKey, ErrorCode::usage);
    // Flow control's group: the org by default (an org longer than a group may be gives none).
    if (job.group) check_name("group", *job.group, kMaxGroupBytes, ErrorCode::usage);
    else if (job.org && job.org->size() <= kMaxGroupBytes) job.group = job.org;
    if (!payload_checked && !parse_storable_json(job.payload, "payload").is_object())
        throw Error(ErrorCode::bad_input, "payload must be a JSON object");
    if (job.priority < -1000000 || job.priority > 1000000)
        throw Error(ErrorCode::usage, "priority must be between -1000000 and 1000000");
    if (job.max_attempts < 1 || job.max_attempts > 1000) throw Error(ErrorCode::usage, "max attempts must be between 1 and 1000");
    if (job.delay_ms < 0) throw Error(ErrorCode::usage, "delay must not be negative");
    if (job.traceparent && !parse_traceparent(*job.traceparent)) {
        if (warnings) warnings->push_back("ignoring invalid traceparent '" + *job.traceparent + "'; starting a new trace");
        job.traceparent.reset();
        job.tracestate.reset();
    }
    if (job.tracestate && !valid_tracestate(*job.tracestate)) job.tracestate.reset();
    if (!job.traceparent) {
        TraceContext ctx{new_trace_id(random), new_span_id(random), 1};
        job.traceparent = ctx.to_traceparent();
    }
    if (job.correlation_id.empty()) job.correlation_id = make_uuid(random);
    else check_name("correlation id", job.correlation_id, kMaxName, ErrorCode::usage);
}

NewJob parse_job_line(const std::string& line, const NewJob& defaults) {
    // The whole line is checked, so a \u0000 anywhere is named by its pointer (/payload/...).
    json j = parse_storable_json(line, "");
    if (!j.is_object()) throw Error(ErrorCode::bad_input, "each line must be a JSON object");
    NewJob job = defaults;
    auto str = [&](const char* name) -> std::optional<std::string> {
        auto it = j.find(name);
        if (it == j.end() || it->is_null()) return std::nullopt;
        if (!it->is_string()) throw Error(ErrorCode::bad_input, std::string("field '") + name + "' must be a string");
        return it->get<std::string>();
    };
    auto words = [](std::string field) {  // "max_attempts" -> "max attempts"
        std::replace(field.begin(), field.end(), '_', ' ');
        return field;
    };
    // Checked before narrowing to int: 4294967296 is out of range, not 0. The range message is
    // prepare_new_job's (and the SQL API's) for the same field: "max attempts must be between ...".
    auto integer = [&](const std::string& name, std::int64_t lo, std::int64_t hi) -> std::optional<int> {
        auto it = j.find(name);
        if (it == j.end() || it->is_null()) return std::nullopt;
        if (!it->is_number_integer()) throw Error(ErrorCode::bad_input, std::string("field '") + name + "' must be an integer");
        if ((it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) ||
            it->get<std::int64_t>() < lo || it->get<std::int64_t>() > hi)
            throw Error(ErrorCode::bad_input, words(name) + " must be between " + std::to_string(lo) + " and " +
                                                  std::to_string(hi));
        return static_cast<int>(it->get<std::int64_t>());
    };
    static const std::set<std::string> known = {"type", "payload", "queue", "priority", "run_at", "delay",
                                                "max_attempts", "key", "lock_key", "limits", "group", "org",
                                                "repo", "correlation_id", "traceparent", "tracestate", "key_mode"};
    for (auto it = j.begin(); it != j.end(); ++it)
        if (!known.count(it.key())) throw Error(ErrorCode::bad_input, "unknown field '" + it.key() + "'");
    if (auto v = str("type")) job.type = *v;
    if (job.type.empty()) throw Error(ErrorCode::bad_input, "missing field 'type'");
    if (auto it = j.find("payload"); it != j.end()) {
        if (!it->is_object()) throw Error(ErrorCode::bad_input, "field 'payload' must be a JSON object");
        job.payload = it->dump();
    }
    if (auto v = str("queue")) job.queue = *v;
    if (auto v = integer("priority", kMinPriority, kMaxPriority)) job.priority = *v;
    if (auto v = integer("max_attempts", 1, kMaxAttempts)) job.max_attempts = *v;
    try {
        if (auto v = str("run_at")) job.run_at = parse_time(*v);
        if (auto v = str("delay")) job.delay_ms = parse_duration_ms(*v);
    } catch (const Error& e) {
        throw Error(ErrorCode::bad_input, e.what());
    }
    if (auto v = str("key")) job.key = v;
    if (auto v = str("key_mode")) {
        auto mode = parse_key_mode(*v);
        if (!mode) throw Error(ErrorCode::bad_input, "field 'key_mode' must be keep, replace or preserve-run-at");
        if (!job.key) throw Error(ErrorCode::bad_input, "field 'key_mode' needs field 'key'");
        job.key_mode = *mode;
    }
    if (auto v = str("lock_key")) job.lock_key = v;
    if (auto it = j.find("limits"); it != j.end()) job.limits = limit_keys_from_field(*it);
    if (auto v = str("group")) job.group = v;
    if (auto v = str("org")) job.org = v;
    if (auto v = str("repo")) job.repo = v;
    if (auto v = str("correlation_id")) job.correlation_id = *v;
    if (auto v = str("traceparent")) job.traceparent = v;
    if (auto v = str("tracestate")) job.tracestate = v;
    return job;
}

std::optional<std::int64_t> running_ms(const Job& job, TimeMs now) {
    if (job.state != JobState::running || job.prefetched || !job.started_at) return std::nullopt;
    return std::max<std::int64_t>(0, now - *job.started_at);
}

EnqueueResult enqueue_with_span(Store& store, Tracer& tracer, NewJob& job, const std::optional<TraceContext>& parent) {
    SpanRecord span = tracer.start("send " + job.queue, SpanKind::producer, parent);
    set_messaging_attributes(span, "send", job.queue);
    span.set("wfq.job.type", job.type);
    job.traceparent = span.context().to_traceparent();
    EnqueueResult r = store.enqueue(job);
    span.set("messaging.message.id", std::to_string(r.id));
    if (r.duplicate) span.set("wfq.duplicate", std::string("true"));
    tracer.end(span);
    if (span.sampled && !r.duplicate) store.add_job_spans(r.id, 0, {span.to_otlp_json()});
    tracer.export_span(span);
    tracer.flush();
    return r;
}

}  // namespace wfq
