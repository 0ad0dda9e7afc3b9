#include "common.h"
#include "new_job_flags.h"

#include <wfq/enqueue_ndjson.h>
#include <wfq/limits.h>
#include <wfq/queue.h>
#include <wfq/text.h>
#include <wfq/trace.h>

#include <cstdlib>
#include <fstream>

namespace wfq::cli {
namespace {

struct EnqueueOptions {
    std::string type;
    std::string payload;
    NewJobFlags job;
    std::string run_at, delay;
    std::optional<std::string> lock_key, correlation_id, traceparent;
    std::string ndjson;
    int batch_size = 1000;
    bool json = false;
};

NewJob defaults_from(const EnqueueOptions& o) {
    NewJob job;
    job.type = o.type;
    apply_new_job_flags(o.job, job, !o.ndjson.empty());  // with --ndjson, --key-mode is for the lines with a key
    if (!o.run_at.empty()) job.run_at = parse_time(o.run_at);
    if (!o.delay.empty()) job.delay_ms = duration_flag("--delay", o.delay);
    job.lock_key = o.lock_key;
    if (o.correlation_id) job.correlation_id = *o.correlation_id;
    if (o.traceparent) job.traceparent = o.traceparent;
    else if (const char* tp = std::getenv("TRACEPARENT"); tp && *tp) job.traceparent = std::string(tp);
    if (const char* ts = std::getenv("TRACESTATE"); ts && *ts && !o.traceparent) job.tracestate = std::string(ts);
    return job;
}

void warn_all(const std::vector<std::string>& warnings) {
    for (const auto& w : warnings) std::cerr << "wfq: warning: " << w << "\n";
}

int run_ndjson(Context& ctx, EnqueueOptions& o) {
    if (o.batch_size < 1 || o.batch_size > 100000) throw Error(ErrorCode::usage, "--batch-size must be between 1 and 100000");
    NdjsonEnqueueOptions options;
    options.defaults = defaults_from(o);
    options.batch_size = o.batch_size;
    options.tracer = &ctx.tracer();
    options.traceparent = options.defaults.traceparent;
    std::ifstream file;
    std::istream* in = &std::cin;
    if (o.ndjson != "-") {
        file.open(o.ndjson);
        if (!file) throw Error(ErrorCode::bad_input, "cannot read " + o.ndjson);
        in = &file;
    }
    Store& store = ctx.store();
    Progress progress("enqueued", true);
    // PostgreSQL applies a COPY on one core; a second connection writes the next batch on the
    // other meanwhile. SQLite has one writer, and so does a transaction pooler: a batch waiting
    // for its turn holds a server connection, which the batch before it might need.
    bool two = store.parallel_enqueue_connections() > 1;
    options.connections = two ? 2 : 1;
    NdjsonEnqueueResult r = enqueue_ndjson(store, *in, options, ctx.random(), [&](const std::string& ids, std::int64_t committed) {
        std::cout << ids;
        progress.update(committed);
    });
    warn_all(r.warnings);
    std::cerr << "enqueued " << count_of(r.committed, "job");
    if (r.duplicates) std::cerr << " (" << r.duplicates << " already existed" << (r.replaced ? ", " + std::to_string(r.replaced) + " of them took the new payload" : "") << ")";
    std::cerr << "\n";
    return 0;
}

int run_enqueue(Context& ctx, EnqueueOptions& o) {
    if (!o.ndjson.empty()) {
        if (!o.type.empty()) throw Error(ErrorCode::usage, "give either TYPE [PAYLOAD] or --ndjson, not both");
        return run_ndjson(ctx, o);
    }
    if (o.type.empty()) throw Error(ErrorCode::usage, "enqueue needs a TYPE (or --ndjson FILE)");
    if (!o.run_at.empty() && !o.delay.empty()) throw Error(ErrorCode::usage, "give --run-at or --delay, not both");
    NewJob job = defaults_from(o);
    if (o.payload == "-") job.payload = read_input("-");
    else if (!o.payload.empty()) job.payload = o.payload;
    std::optional<TraceContext> parent;
    if (job.traceparent) parent = parse_traceparent(*job.traceparent);
    std::vector<std::string> warnings;
    prepare_new_job(job, ctx.random(), &warnings);
    warn_all(warnings);
    Store& store = ctx.store();
    EnqueueResult r = enqueue_with_span(store, ctx.tracer(), job, parent);
    if (r.replaced)
        std::cerr << "wfq: job " << r.id << " with key '" << *job.key << "' took the new payload"
                  << (job.key_mode == KeyMode::replace ? " and run_at" : "") << " (key mode " << to_string(job.key_mode) << ")\n";
    else if (r.duplicate)
        std::cerr << "wfq: job " << r.id << " already exists with key '" << *job.key << "'; not enqueued again\n";
    if (o.json) {
        auto stored = store.get_job(r.id);
        json j = job_json(*stored, ctx.clock().now_ms());
        j["duplicate"] = r.duplicate;
        j["replaced"] = r.replaced;
        std::cout << j.dump() << "\n";
    } else {
        std::cout << r.id << "\n";
    }
    return 0;
}

}  // namespace

void add_enqueue_command(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<EnqueueOptions>();
    auto* sub = app.add_subcommand("enqueue", "Add a job (or many, from NDJSON) to the queue");
    sub->add_option("type", o->type, "Job type");
    sub->add_option("payload", o->payload, "Payload: a JSON object, or - for stdin (default {})");
    add_new_job_flags(sub, o->job);
    sub->add_option("--run-at", o->run_at, "Run no earlier than this RFC 3339 time");
    sub->add_option("--delay", o->delay, "Run no earlier than this long from now (duration)");
    sub->add_option("--lock-key", o->lock_key, "At most one running job per lock key");
    sub->add_option("--correlation-id", o->correlation_id, "Correlation id (generated when absent)");
    sub->add_option("--traceparent", o->traceparent, "W3C traceparent (else the TRACEPARENT variable)");
    sub->add_option("--ndjson", o->ndjson, "Read one job per line from FILE, or - for stdin");
    sub->add_option("--batch-size", o->batch_size, "NDJSON lines per transaction")->capture_default_str();
    sub->add_flag("--json", o->json, "Print the job as JSON");
    on_run(sub, ctx, o, run_enqueue);
}

}  // namespace wfq::cli
