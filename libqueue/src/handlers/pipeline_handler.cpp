// The pipeline handler: a workflow's stages run in order over a JSON context checkpointed after
// each stage, resumed at the first stage without a checkpoint, parked while a stage waits for an
// event (workflow files themselves are read in pipeline.cpp).
#include "process_result.h"

#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/json_check.h>
#include <wfq/limits.h>
#include <wfq/lock.h>
#include <wfq/pipeline.h>
#include <wfq/process_runner.h>
#include <wfq/state.h>
#include <wfq/text.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace wfq {
namespace {

using nlohmann::json;

class PipelineHandler final : public Handler {
public:
    PipelineHandler(Store& store, std::vector<Workflow> workflows, ExecHandlerOptions base, Tracer* tracer, Clock& clock)
        : m_store(store), m_base(std::move(base)), m_tracer(tracer), m_clock(clock) {
        for (auto& w : workflows) m_workflows.emplace(w.type, std::move(w));
    }

    HandlerResult run(const Job& job, const std::atomic<bool>& cancel) override {
        LogCapture log(m_base.log_cap);
        HandlerResult r = run_stages(job, cancel, log);
        r.log = log.take();
        return r;
    }

private:
    // The attempt, its stages' stderr lines added to log as "stage NAME: LINE".
    HandlerResult run_stages(const Job& job, const std::atomic<bool>& cancel, LogCapture& log) {
        HandlerResult r;
        auto wit = m_workflows.find(job.type);
        if (wit == m_workflows.end()) return failure(r, "no workflow for type '" + job.type + "'", "no_workflow", true);
        const Workflow& wf = wit->second;
        JobRef ref{job.id, job.lease_owner.value_or(""), job.attempt};
        if (!wf.limits.empty()) {
            // The workflow's limit keys: a job that does not hold them all yet (enqueued without
            // them) is given back, without spending its attempt, with them as its keys, and
            // waits for admission like any job enqueued with them (flow control).
            std::vector<std::string> keys = job.limits;
            bool missing = false;
            try {
                for (const auto& tmpl : wf.limits) {
                    std::string key = expand_template(tmpl, job);
                    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
                        keys.push_back(std::move(key));
                        missing = true;
                    }
                }
                check_limit_keys(keys, ErrorCode::bad_input, "the workflow's limits");
            } catch (const Error& e) {
                return failure(r, e.what(), "bad_input", true);
            }
            if (missing) {
                std::sort(keys.begin(), keys.end());
                r.outcome = HandlerResult::Outcome::deferred;
                r.error = "held for its workflow's limit keys (";
                for (std::size_t i = 0; i < keys.size(); ++i) r.error += (i ? ", " : "") + keys[i];
                r.error += ")";
                r.hold_for_keys = std::move(keys);
                return r;
            }
        }
        std::optional<TraceContext> attempt_ctx;
        if (job.traceparent) attempt_ctx = parse_traceparent(*job.traceparent);

        // Restore where the last attempt stopped.
        std::vector<Checkpoint> checkpoints = m_store.load_checkpoints(job.id);
        json restored;
        try {
            SpanRecord restore = start_span("restore", attempt_ctx);
            restored = checkpoints.empty() ? json::parse(job.payload) : restore_context(checkpoints);
            end_span(restore, r);
        } catch (const Error& e) {
            return failure(r, "job " + std::to_string(job.id) + ": " + e.what(), "corrupt_state", true);
        }
        if (!restored.is_object())
            return failure(r, "job " + std::to_string(job.id) + ": the context is not a JSON object", "corrupt_state", true);
        // Deltas are taken against exactly what restore gives back, so that restore stays exact.
        json previous = checkpoints.empty() ? json() : restored;
        json ctx = std::move(restored);
        ctx["wfq"] = {{"job_id", job.id}, {"attempt", job.attempt}, {"correlation_id", job.correlation_id}, {"type", job.type}};
        int since_snapshot = 0;
        for (const auto& c : checkpoints) since_snapshot = c.kind == "snapshot" ? 0 : since_snapshot + 1;

        if (job.wait_spec) {
            // An unfulfilled wait (its deadline passed, or an operator retried the job): wait
            // again; a signal stored meanwhile resumes it at once.
            json spec = json::parse(*job.wait_spec);
            return wait(spec, r);
        }
        if (job.signal_data) {
            // The signal that ended the last wait. The job keeps it until the next checkpoint
            // holds the context it produced, so every attempt before then (a retry, a rescue,
            // an operator's `jobs retry`) sees exactly the context the first one saw.
            json sd = json::parse(*job.signal_data);
            ctx["signals"][sd.at("event").get<std::string>()] = sd.at("data");
        }

        // Held for the rest of this attempt, released on every way out of it.
        struct LockGuard {
            std::unique_ptr<LockHolder> holder;
            ~LockGuard() {
                try {
                    if (holder) holder->release();
                } catch (...) {
                }
            }
        } lock;
        if (!wf.lock_key.empty()) {
            std::string key;
            try {
                key = expand_template(wf.lock_key, job);
                validate_lock_key(key);
            } catch (const Error& e) {
                return failure(r, e.what(), "bad_input", true);
            }
            auto grant = m_store.lock_acquire(key, ref.lease_owner, 60000);
            if (!grant) {
                r.outcome = HandlerResult::Outcome::deferred;
                r.delay_ms = 1000;
                r.error = "lock key '" + key + "' is busy";
                return r;
            }
            lock.holder = std::make_unique<LockHolder>(m_store, *grant, 60000, [](const std::string&) {}, m_clock);
        }

        const std::int64_t job_deadline = wf.timeout_ms ? m_clock.steady_ns() / 1'000'000 + wf.timeout_ms : 0;
        // The context is serialised once per stage: the checkpoint's text is the next stdin.
        std::string serialized;
        for (std::size_t i = checkpoints.size(); i < wf.stages.size(); ++i) {
            if (cancel) {
                r.outcome = HandlerResult::Outcome::cancelled;
                break;
            }
            const StageSpec& stage = wf.stages[i];
            m_store.set_current_stage(ref, stage.name);
            SpanRecord span = start_span("stage " + stage.name, attempt_ctx);
            auto t0 = m_clock.steady_ns();
            if (!stage.builtin.empty()) {
                ctx["config"] = job.config ? json::parse(*job.config) : json(nullptr);
            } else {
                Job stage_job = job;
                stage_job.traceparent = span.context().to_traceparent();
                ProcessSpec spec = handler_process(stage_job, m_base, stage.exec, cancel);
                spec.env.push_back("WFQ_STAGE=" + stage.name);
                if (m_base.log_cap > 0)
                    spec.on_stderr_line = [&log, prefix = "stage " + stage.name + ": ",
                                           logged = std::move(spec.on_stderr_line)](const std::string& line) {
                        logged(line);
                        log.add_line(prefix + line);
                    };
                spec.stdin_data = serialized.empty() ? canonical(ctx) : std::move(serialized);
                serialized.clear();
                std::int64_t timeout = stage.timeout_ms ? stage.timeout_ms : wf.timeout_ms;
                if (job_deadline) {
                    std::int64_t left = std::max<std::int64_t>(1, job_deadline - m_clock.steady_ns() / 1'000'000);
                    timeout = timeout ? std::min(timeout, left) : left;
                }
                spec.timeout_ms = timeout;
                spec.stdout_cap = 64 << 20;
                ProcessResult p = run_process(spec);
                std::string where = "stage " + stage.name + ": ";
                HandlerResult ended = handler_result_of(p, timeout, where);
                if (ended.outcome == HandlerResult::Outcome::cancelled) {
                    r.outcome = HandlerResult::Outcome::cancelled;
                    span.fail("cancelled");
                    end_span(span, r);
                    break;
                }
                if (ended.outcome != HandlerResult::Outcome::success) {
                    r.outcome = ended.outcome;
                    r.exit_code = ended.exit_code;
                    r.ended_by = std::move(ended.ended_by);
                    r.error = std::move(ended.error);
                    span.fail(r.error);
                    end_span(span, r);
                    return r;
                }
                json next;
                std::string problem;
                try {
                    if (p.stdout_truncated) problem = "its output exceeds " + std::to_string(spec.stdout_cap >> 20) + " MiB";
                    else next = parse_storable_json(p.stdout_data, "its output");
                } catch (const Error& e) {
                    problem = e.what();  // not JSON, or JSON the queue does not store (\u0000, too deep)
                }
                if (problem.empty() && !next.is_object()) problem = "its output is not a JSON object (the new context)";
                if (!problem.empty()) {
                    span.fail(problem);
                    end_span(span, r);
                    return failure(r, where + problem, "bad_output", false);
                }
                ctx = std::move(next);
            }
            json wait_spec;
            if (ctx.contains("$wait")) {
                wait_spec = ctx["$wait"];
                ctx.erase("$wait");
            }
            r.stage_seconds.push_back(static_cast<double>(m_clock.steady_ns() - t0) / 1e9);
            end_span(span, r);

            SpanRecord cp_span = start_span("checkpoint " + stage.name, attempt_ctx);
            serialized = canonical(ctx);
            Checkpoint c =
                encode_checkpoint(static_cast<int>(i) + 1, stage.name, previous, ctx, serialized, since_snapshot, wf.state);
            cp_span.set("wfq.checkpoint.kind", c.kind);
            cp_span.set("wfq.checkpoint.raw_bytes", static_cast<std::int64_t>(c.raw_bytes));
            cp_span.set("wfq.checkpoint.stored_bytes", static_cast<std::int64_t>(c.stored_bytes));
            bool stored = m_store.add_checkpoint(ref, c);
            end_span(cp_span, r);
            if (!stored) {
                r.outcome = HandlerResult::Outcome::cancelled;  // the lease is gone
                return r;
            }
            since_snapshot = c.kind == "snapshot" ? 0 : since_snapshot + 1;
            previous = ctx;
            if (!wait_spec.is_null()) {
                serialized.clear();  // the signal's data changes the context
                return wait(wait_spec, r);
            }
        }
        if (r.outcome == HandlerResult::Outcome::cancelled) return r;
        r.outcome = HandlerResult::Outcome::success;
        ctx.erase("wfq");
        r.output = canonical(ctx);
        return r;
    }

private:
    static HandlerResult& failure(HandlerResult& r, const std::string& message, const std::string& error_class, bool permanent) {
        r.outcome = HandlerResult::Outcome::failure;
        r.exit_code = 1;
        r.error = message;
        r.error_class = error_class;
        r.permanent = permanent;
        return r;
    }

    SpanRecord start_span(const std::string& name, const std::optional<TraceContext>& parent) {
        if (m_tracer) return m_tracer->start(name, SpanKind::internal, parent);
        SpanRecord s;
        s.name = name;
        s.start_ns = unix_now_ns();
        s.sampled = false;
        return s;
    }

    static void end_span(SpanRecord& span, HandlerResult& r) {
        span.end_ns = unix_now_ns();
        if (span.sampled) r.spans.push_back(span);
    }

    // Asks to park the job until spec's event ({"event","key","timeout"}). The completer parks
    // it, or resumes it at once when the signal is already stored (the next attempt then finds
    // the signal's data at /signals/EVENT).
    HandlerResult wait(const json& spec, HandlerResult& r) {
        if (!spec.is_object() || !spec.contains("event") || !spec["event"].is_string())
            return failure(r, "a $wait needs {\"event\": NAME, \"key\": KEY, \"timeout\": DURATION}", "bad_output", true);
        std::string event = spec["event"].get<std::string>();
        std::string key = spec.contains("key") ? (spec["key"].is_string() ? spec["key"].get<std::string>() : spec["key"].dump()) : "";
        if (auto problem = name_problem(event, 200)) return failure(r, "$wait event " + *problem, "bad_output", true);
        if (auto problem = signal_key_problem(key)) return failure(r, "$wait key " + *problem, "bad_output", true);
        std::int64_t timeout = 86'400'000;
        try {
            if (spec.contains("timeout")) timeout = parse_duration_ms(spec["timeout"].get<std::string>());
        } catch (const std::exception& e) {
            return failure(r, std::string("$wait timeout: ") + e.what(), "bad_output", true);
        }
        json stored_spec{{"event", event}, {"key", key}, {"timeout", format_duration_ms(timeout)}};
        HandlerResult out = r;
        out.outcome = HandlerResult::Outcome::parked;
        out.wait = HandlerResult::Wait{event, key, stored_spec.dump(), timeout};
        return out;
    }

    Store& m_store;
    std::map<std::string, Workflow> m_workflows;
    ExecHandlerOptions m_base;
    Tracer* m_tracer;
    Clock& m_clock;
};


}  // namespace

std::unique_ptr<Handler> make_pipeline_handler(Store& store, std::vector<Workflow> workflows, ExecHandlerOptions base,
                                               Tracer* tracer, Clock& clock) {
    return std::make_unique<PipelineHandler>(store, std::move(workflows), std::move(base), tracer, clock);
}

}  // namespace wfq
