#include "common.h"

#include <wfq/queue.h>
#include <wfq/trace.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <fstream>
#include <limits>
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

// Commits parsed NDJSON batches on up to `count` connections at once, in input order: while one
// batch is in the database the next is written on another connection, but a batch takes its ids
// only after the batch before it took its own (ids follow the lines), and commits only after
// every batch before it has. When one fails, the batches after it roll back, so what is
// committed is always the input up to a batch boundary, and the ids are printed in line order.
class OrderedWriters {
public:
    OrderedWriters(Store& store, int count, Progress& progress)
        : m_first(store), m_progress(progress), m_threads_wanted(std::max(1, count)) {
        for (int i = 0; i < m_threads_wanted; ++i) m_threads.emplace_back([this, i] { run(i); });
    }
    ~OrderedWriters() { stop(); }

    // Hands a parsed batch over, waiting while one already waits; false when a writer failed.
    // full: the batch reached the batch size, so more input probably follows: the other
    // writers connect now, while the first batch is written, not when their first batch waits.
    bool hand_over(std::vector<NewJob>& batch, bool full) {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_cv.wait(lock, [&] { return m_queue.empty() || m_error; });
        if (m_error) return false;
        if (full) m_warm = true;
        m_queue.emplace_back(m_next_seq++, std::move(batch));
        batch.clear();
        m_cv.notify_all();
        return true;
    }
    // Waits until every batch handed over is committed or abandoned.
    void stop() {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_reading_done = true;
        }
        m_cv.notify_all();
        for (auto& t : m_threads)
            if (t.joinable()) t.join();
    }
    // The same, and rethrows the error of the first batch that failed.
    void finish() {
        stop();
        if (m_error) std::rethrow_exception(m_error);
    }
    std::int64_t committed() const { return m_committed; }
    std::int64_t duplicates() const { return m_duplicates; }

private:
    struct Abandoned {};  // an earlier batch failed: this one must not commit

    // Writer i writes the batches whose sequence number is i modulo the writers: input that
    // fits one batch goes to the first writer, on the connection the command already has.
    void run(int index) {
        std::unique_ptr<Store> own;  // the writers after the first open a connection of their own
        std::string out;
        const auto count = static_cast<std::int64_t>(m_threads_wanted);
        bool connect_tried = false;
        for (;;) {
            std::int64_t seq = 0;
            std::vector<NewJob> batch;
            bool connect = false;
            {
                std::unique_lock<std::mutex> lock(m_mutex);
                m_cv.wait(lock, [&] {
                    return (!m_queue.empty() && m_queue.front().first % count == index) ||
                           (m_reading_done && m_queue.empty()) || (index > 0 && !connect_tried && m_warm && !m_error);
                });
                if (!m_queue.empty() && m_queue.front().first % count == index) {
                    seq = m_queue.front().first;
                    batch = std::move(m_queue.front().second);
                    m_queue.pop_front();
                } else if (m_queue.empty() && m_reading_done) {
                    return;
                } else {
                    connect = true;
                }
            }
            if (connect) {  // more input follows: connect while the first batch is written
                connect_tried = true;
                try {
                    own = m_first.open_sibling();
                } catch (...) {
                    // The writer's first batch connects again and reports the error.
                }
                continue;
            }
            m_cv.notify_all();
            try {
                if (index > 0 && !own) own = m_first.open_sibling();
                Store& store = index > 0 && own ? *own : m_first;
                auto results = store.enqueue_batch(batch, [&](EnqueuePhase phase) {
                    std::unique_lock<std::mutex> lock(m_mutex);
                    if (phase == EnqueuePhase::ids_taken) {  // the next batch may take its ids
                        m_next_ids = std::max(m_next_ids, seq + 1);
                        lock.unlock();
                        m_cv.notify_all();
                        return;
                    }
                    // (>=: a retried transaction takes its ids again)
                    std::int64_t& turn = phase == EnqueuePhase::ids ? m_next_ids : m_next_commit;
                    m_cv.wait(lock, [&] { return turn >= seq || m_failed_seq < seq; });
                    if (m_failed_seq < seq) throw Abandoned{};
                });
                std::int64_t dup = 0;
                for (const auto& r : results) {
                    out += std::to_string(r.id);
                    out += '\n';
                    if (r.duplicate) ++dup;
                }
                std::lock_guard<std::mutex> lock(m_mutex);
                std::cout << out;
                out.clear();
                m_committed += static_cast<std::int64_t>(batch.size());
                m_duplicates += dup;
                m_progress.update(m_committed);
                m_next_commit = seq + 1;
            } catch (const Abandoned&) {
                return;
            } catch (...) {
                std::lock_guard<std::mutex> lock(m_mutex);
                if (seq < m_failed_seq) {
                    m_failed_seq = seq;
                    m_error = std::current_exception();
                }
                m_queue.clear();
                m_reading_done = true;
            }
            m_cv.notify_all();
        }
    }

    Store& m_first;
    Progress& m_progress;
    std::mutex m_mutex;
    std::condition_variable m_cv;  // few waiters, rarely: the reader and the writers share it
    std::deque<std::pair<std::int64_t, std::vector<NewJob>>> m_queue;  // parsed, not yet taken
    std::int64_t m_next_seq = 0, m_next_ids = 0, m_next_commit = 0;  // handed over; whose turn to take ids, to commit
    std::int64_t m_failed_seq = std::numeric_limits<std::int64_t>::max();
    std::exception_ptr m_error;
    bool m_reading_done = false;
    bool m_warm = false;  // a full batch was handed over: the other writers connect
    std::int64_t m_committed = 0, m_duplicates = 0;
    int m_threads_wanted;
    std::vector<std::thread> m_threads;  // last: the threads start once the rest is built
};

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
    // PostgreSQL applies a COPY on one core; a second connection writes the next batch on the
    // other meanwhile. SQLite has one writer, and so does a transaction pooler: a batch waiting
    // for its turn holds a server connection, which the batch before it might need.
    bool two = store.parallel_enqueue_connections() > 1;
    OrderedWriters writers(store, two ? 2 : 1, progress);
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
                prepare_new_job(job, ctx.random(), &warnings, true);
                batch.push_back(std::move(job));
            } catch (const Error& e) {
                std::size_t earlier = batch.size();
                writers.finish();
                std::cout.flush();
                throw Error(ErrorCode::bad_input, "line " + std::to_string(line_no) + ": " + e.what() + "; " +
                                                      std::to_string(writers.committed()) + " jobs were committed before it; its batch (" +
                                                      std::to_string(earlier) + " earlier lines) was not committed");
            }
            if (static_cast<int>(batch.size()) >= o.batch_size && !writers.hand_over(batch, true)) break;
        }
        if (!batch.empty()) writers.hand_over(batch, false);
    } catch (...) {
        writers.stop();
        throw;
    }
    writers.finish();
    warn_all(warnings);
    std::cerr << "enqueued " << writers.committed() << " jobs";
    if (writers.duplicates()) std::cerr << " (" << writers.duplicates() << " already existed)";
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
