#include "executor.h"

#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/log.h>
#include <wfq/text.h>

namespace wfq::engine {

std::string ended_by(const HandlerResult& r) {
    using O = HandlerResult::Outcome;
    if (!r.ended_by.empty()) return r.ended_by;
    if (r.error_class == "protocol") return "protocol error";
    if (r.error_class == "handler_error") return "the handler reported a failure";
    if (r.error_class == "bad_output") return "bad output";
    if (r.outcome == O::timeout) return "timeout";
    if (r.outcome == O::crash) return "crash";
    if (r.exit_code == -1) return "config";
    if (r.outcome == O::failure && r.exit_code > 0 && r.error_class.empty()) return "exit code " + std::to_string(r.exit_code);
    return r.error_class.empty() ? "failure" : r.error_class;
}

Verdict decide_outcome(const Job& job, const JobRef& ref, const HandlerResult& r, const JobPolicy& policy,
                       int max_snoozes, bool shutting_down, Random& random, int max_releases) {
    using O = HandlerResult::Outcome;
    Verdict d;
    Outcome o;
    o.job = ref;
    switch (r.outcome) {
        case O::success:
            o.kind = Outcome::Kind::completed;
            o.result = r.output;
            d.decision = Decision::completed;
            d.outcome = std::move(o);
            return d;
        case O::parked:
            if (!r.wait) break;
            o.kind = Outcome::Kind::parked;
            o.wait_event = r.wait->event;
            o.wait_key = r.wait->key;
            o.wait_spec = r.wait->spec;
            o.wait_timeout_ms = r.wait->timeout_ms;
            o.max_attempts = policy.max_attempts.value_or(job.max_attempts);
            d.decision = Decision::parked;
            d.outcome = std::move(o);
            return d;
        case O::deferred:
            o.kind = Outcome::Kind::deferred;
            o.delay_ms = r.delay_ms;
            o.limit_keys = r.hold_for_keys;
            o.message = r.error;
            d.decision = Decision::deferred;
            d.outcome = std::move(o);
            return d;
        case O::snoozed:
            if (job.snoozes >= max_snoozes) {
                o.kind = Outcome::Kind::failed;
                o.error_class = d.error_class = "snooze_limit";
                o.message = "snoozed " + std::to_string(job.snoozes) + " times (--max-snoozes " + std::to_string(max_snoozes) + ")";
                d.decision = Decision::failed;
                d.permanent = true;
                d.outcome = std::move(o);
                return d;
            }
            o.kind = Outcome::Kind::snoozed;
            o.delay_ms = r.delay_ms;
            o.message = "snoozed for " + format_duration_ms(r.delay_ms);
            d.decision = Decision::snoozed;
            d.outcome = std::move(o);
            return d;
        case O::cancelled:
            if (shutting_down && job.releases >= max_releases) {
                // A handler that never finishes before the worker stops (a hang under cron's
                // --max-time) would otherwise be handed back forever without spending an attempt.
                o.kind = Outcome::Kind::failed;
                o.error_class = d.error_class = "release_limit";
                o.message = "handed back unfinished " + std::to_string(job.releases + 1) + " times (--max-releases " +
                            std::to_string(max_releases) + "): the handler never finished before its worker stopped";
                o.permanent = d.permanent = true;
                d.decision = Decision::failed;
                d.outcome = std::move(o);
            } else if (shutting_down) {
                o.kind = Outcome::Kind::released;
                o.message = "worker stopped before the job finished";
                d.decision = Decision::released;
                d.outcome = std::move(o);
            } else {
                d.decision = Decision::lost;  // its lease is gone: rescued, cancelled or taken over
            }
            return d;
        default:
            break;
    }
    d.error_class = !r.error_class.empty()       ? r.error_class
                    : r.outcome == O::timeout   ? "timeout"
                    : r.outcome == O::crash     ? "crash"
                    : r.outcome == O::parked    ? "bad_output"
                    : r.exit_code == -1         ? "config"
                                                : "exit_code";
    d.permanent = r.permanent || (r.outcome == O::failure && policy.permanent_exit_codes.count(r.exit_code));
    Failure f = decide_failure(job, policy, d.error_class, r.error, d.permanent, random);
    o.kind = f.retry_in_ms ? Outcome::Kind::retry : Outcome::Kind::failed;
    o.error_class = f.error_class;
    o.message = f.message;
    o.delay_ms = f.retry_in_ms.value_or(0);
    o.permanent = d.permanent;
    o.ended_by = ended_by(r);
    if (r.outcome == O::failure && r.exit_code > 0 && r.error_class.empty()) o.exit_code = r.exit_code;
    d.decision = f.retry_in_ms ? Decision::retried : Decision::failed;
    d.outcome = std::move(o);
    return d;
}

Executor::Executor(Handler& handler, Tracer& tracer, Store& store, ConfigCache* cache, const WorkerOptions& options,
                   Clock& clock, Random& random, std::string worker_id)
    : m_handler(handler), m_tracer(tracer), m_store(store), m_cache(cache), m_options(options), m_clock(clock),
      m_random(random), m_worker_id(std::move(worker_id)) {}

Verdict Executor::run(Job job, const JobRef& ref, std::int64_t claim_start_ns, std::int64_t claim_end_ns,
                      const std::atomic<bool>& cancel, const std::atomic<bool>& shutting_down) {
    Attempt a = begin(std::move(job), ref, claim_start_ns, claim_end_ns);
    HandlerResult r = a.early ? std::move(*a.early) : m_handler.run(a.job, cancel);
    return end(a, std::move(r), shutting_down);
}

Executor::Attempt Executor::begin(Job job, const JobRef& ref, std::int64_t claim_start_ns, std::int64_t claim_end_ns) {
    Attempt a;
    a.started_ns = m_clock.steady_ns();
    a.ref = ref;
    std::optional<TraceContext> parent;
    if (job.traceparent) parent = parse_traceparent(*job.traceparent);
    a.span = m_tracer.start("process " + job.queue, SpanKind::consumer, parent);
    SpanRecord& span = a.span;
    span.start_ns = claim_start_ns;
    // The attributes are the OTLP export's: the packed spans in the job's row carry the same
    // facts in fields of their own, and `trace show` rebuilds the attributes from them.
    if (m_tracer.exporting()) {
        set_messaging_attributes(span, "process", job.queue);
        span.set("messaging.message.id", std::to_string(job.id));
        span.set("wfq.job.type", job.type);
        span.set("wfq.job.attempt", std::int64_t(job.attempt));
        span.set("wfq.worker.id", m_worker_id);
    }
    a.claim_span = m_tracer.child("claim", span);
    a.claim_span.start_ns = claim_start_ns;
    a.claim_span.end_ns = claim_end_ns;

    a.job = std::move(job);
    Job& attempt = a.job;  // changed in place
    attempt.traceparent = span.context().to_traceparent();  // handlers run in the attempt's span
    try {
        auto [org, repo] = m_options.config_scope ? m_options.config_scope(attempt) : std::make_pair(attempt.org, attempt.repo);
        if (m_cache && org) {
            SpanRecord cfg = m_tracer.child("resolve_config", span);
            try {
                attempt.config = resolve_config_cached(m_store, *m_cache, *org, repo);
            } catch (const std::exception& e) {
                cfg.fail(e.what());
                m_tracer.end(cfg);
                a.others.push_back(cfg);
                throw;
            }
            m_tracer.end(cfg);
            a.others.push_back(cfg);
        }
    } catch (const Error& e) {
        HandlerResult r;
        r.outcome = HandlerResult::Outcome::failure;
        r.exit_code = -1;
        r.error = std::string("could not resolve the job's config: ") + e.what();
        a.early = std::move(r);
    }
    return a;
}

Verdict Executor::end(Attempt& a, HandlerResult r, bool shutting_down) {
    const Job& job = a.job;
    SpanRecord& span = a.span;
    auto typed = m_options.type_policies.find(job.type);
    const JobPolicy& policy = typed != m_options.type_policies.end() ? typed->second : m_options.policy;
    Verdict v = decide_outcome(job, a.ref, r, policy, m_options.max_snoozes, shutting_down, m_random, m_options.max_releases);
    v.trace_id = span.trace_id;
    v.stage_seconds = std::move(r.stage_seconds);
    if (v.outcome) v.outcome->log = std::move(r.log);

    for (auto& s : r.spans) a.others.push_back(std::move(s));
    r.spans.clear();
    const std::string& kind = decision_name(v.decision);
    span.set("wfq.outcome", kind);
    if (v.decision == Decision::retried || v.decision == Decision::failed || v.decision == Decision::lost ||
        v.decision == Decision::released) {
        std::string tail = r.error.size() > 500 ? r.error.substr(r.error.size() - 500) : r.error;
        span.fail(tail.empty() ? kind : to_valid_utf8(tail));
    }
    m_tracer.end(span);
    if (span.sampled) {
        if (v.outcome)
            v.outcome->spans =
                pack_attempt_spans(span, a.claim_span, a.others, job.queue, job.type, job.attempt, m_worker_id, kind);
        m_tracer.export_span(span);
        m_tracer.export_span(a.claim_span);
        for (const auto& s : a.others) m_tracer.export_span(s);
    }
    v.seconds = static_cast<double>(m_clock.steady_ns() - a.started_ns) / 1e9;
    return v;
}

}  // namespace wfq::engine
