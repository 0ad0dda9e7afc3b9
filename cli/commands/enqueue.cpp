#include "common.h"

#include <wfq/queue.h>
#include <wfq/trace.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>

namespace wfq::cli {
namespace {

struct EnqueueOptions {
    std::string type;
    std::string payload;
    std::string queue = "default";
    int priority = 0;
    std::string run_at, delay;
    int max_attempts = 3;
    std::optional<std::string> key, lock_key, org, repo, correlation_id, traceparent;
    std::string ndjson;
    int batch_size = 1000;
    bool json = false;
};

NewJob defaults_from(const EnqueueOptions& o) {
    NewJob job;
    job.type = o.type;
    job.queue = o.queue;
    job.priority = o.priority;
    job.max_attempts = o.max_attempts;
    if (!o.run_at.empty()) job.run_at = parse_time(o.run_at);
    if (!o.delay.empty()) job.delay_ms = duration_flag("--delay", o.delay);
    job.key = o.key;
    job.lock_key = o.lock_key;
    job.org = o.org;
    job.repo = o.repo;
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
    NewJob defaults = defaults_from(o);
    defaults.type.clear();
    defaults.key.reset();  // a key names one job; it never applies to every line
    std::ifstream file;
    std::istream* in = &std::cin;
    if (o.ndjson != "-") {
        file.open(o.ndjson);
        if (!file) throw Error(ErrorCode::bad_input, "cannot read " + o.ndjson);
        in = &file;
    }
    Store& store = ctx.store();
    Progress progress("enqueued", true);
    // Lines are parsed here while a writer thread commits the previous batch: parsing and the
    // database's work overlap (a pipeline of one batch). A bad line stops the reading; the
    // batches before its own are committed first, as without the pipeline.
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::vector<NewJob>> queue;  // parsed batches the writer has not taken
    bool reading_done = false;
    std::exception_ptr writer_error;
    std::int64_t committed = 0, duplicates = 0;
    std::thread writer([&] {
        std::string out;
        for (;;) {
            std::vector<NewJob> batch;
            {
                std::unique_lock<std::mutex> lock(mutex);
                cv.wait(lock, [&] { return !queue.empty() || reading_done; });
                if (queue.empty()) return;
                batch = std::move(queue.front());
                queue.pop_front();
            }
            cv.notify_all();
            try {
                auto results = store.enqueue_batch(batch);
                std::int64_t dup = 0;
                for (const auto& r : results) {
                    out += std::to_string(r.id);
                    out += '\n';
                    if (r.duplicate) ++dup;
                }
                std::cout << out;
                out.clear();
                std::lock_guard<std::mutex> lock(mutex);
                committed += static_cast<std::int64_t>(batch.size());
                duplicates += dup;
                progress.update(committed);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mutex);
                writer_error = std::current_exception();
                queue.clear();
                reading_done = true;
                cv.notify_all();
                return;
            }
            cv.notify_all();
        }
    });
    // Hands a parsed batch to the writer, waiting while one already waits; false when the
    // writer failed.
    auto hand_over = [&](std::vector<NewJob>& batch) {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return queue.empty() || writer_error; });
        if (writer_error) return false;
        queue.push_back(std::move(batch));
        batch.clear();
        cv.notify_all();
        return true;
    };
    // Stops the writer once it has committed what it was given.
    auto stop_writer = [&] {
        {
            std::lock_guard<std::mutex> lock(mutex);
            reading_done = true;
        }
        cv.notify_all();
        if (writer.joinable()) writer.join();
    };
    // The same, and rethrows the writer's error.
    auto finish_writer = [&] {
        stop_writer();
        if (writer_error) std::rethrow_exception(writer_error);
    };
    std::vector<NewJob> batch;
    std::int64_t line_no = 0;
    std::string line;
    std::vector<std::string> warnings;
    try {
        while (std::getline(*in, line)) {
            ++line_no;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            try {
                NewJob job = parse_job_line(line, defaults);
                prepare_new_job(job, ctx.random(), &warnings);
                batch.push_back(std::move(job));
            } catch (const Error& e) {
                std::size_t earlier = batch.size();
                finish_writer();
                std::cout.flush();
                throw Error(ErrorCode::bad_input, "line " + std::to_string(line_no) + ": " + e.what() + "; " +
                                                      std::to_string(committed) + " jobs were committed before it; its batch (" +
                                                      std::to_string(earlier) + " earlier lines) was not committed");
            }
            if (static_cast<int>(batch.size()) >= o.batch_size && !hand_over(batch)) break;
        }
        if (!batch.empty()) hand_over(batch);
    } catch (...) {
        stop_writer();
        throw;
    }
    finish_writer();
    warn_all(warnings);
    std::cerr << "enqueued " << committed << " jobs";
    if (duplicates) std::cerr << " (" << duplicates << " already existed)";
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
    if (r.duplicate) std::cerr << "wfq: job " << r.id << " already exists with key '" << *job.key << "'; not enqueued again\n";
    if (o.json) {
        auto stored = store.get_job(r.id);
        json j = json::parse(job_to_json(*stored, ctx.clock().now_ms()));
        j["duplicate"] = r.duplicate;
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
    sub->add_option("--queue", o->queue, "Queue name")->capture_default_str();
    sub->add_option("--priority", o->priority, "Higher runs first")->capture_default_str();
    sub->add_option("--run-at", o->run_at, "Run no earlier than this RFC 3339 time");
    sub->add_option("--delay", o->delay, "Run no earlier than this long from now (duration)");
    sub->add_option("--max-attempts", o->max_attempts, "Attempts before the job fails for good")->capture_default_str();
    sub->add_option("--key", o->key, "Idempotency key: a duplicate returns the existing job");
    sub->add_option("--lock-key", o->lock_key, "At most one running job per lock key");
    sub->add_option("--org", o->org, "Organisation (config scope)");
    sub->add_option("--repo", o->repo, "Repository (config scope)");
    sub->add_option("--correlation-id", o->correlation_id, "Correlation id (generated when absent)");
    sub->add_option("--traceparent", o->traceparent, "W3C traceparent (else the TRACEPARENT variable)");
    sub->add_option("--ndjson", o->ndjson, "Read one job per line from FILE, or - for stdin");
    sub->add_option("--batch-size", o->batch_size, "NDJSON lines per transaction")->capture_default_str();
    sub->add_flag("--json", o->json, "Print the job as JSON");
    on_run(sub, ctx, o, run_enqueue);
}

}  // namespace wfq::cli
