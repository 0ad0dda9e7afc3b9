#include <wfq/enqueue_ndjson.h>

#include <wfq/errors.h>
#include <wfq/queue.h>
#include <wfq/store.h>
#include <wfq/trace.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <istream>
#include <limits>
#include <mutex>
#include <thread>

namespace wfq {
namespace {

// A parsed batch, and the create spans of its jobs that have one (index into jobs, span).
struct Batch {
    std::vector<NewJob> jobs;
    std::vector<std::pair<std::size_t, SpanRecord>> creates;
    void clear() {
        jobs.clear();
        creates.clear();
    }
};

// The spans of batch publishing (OpenTelemetry messaging conventions): each job without a
// creation context of its own gets a `create` span whose context it carries; each batch a
// `send` span linking every job's creation context, exported with the creates once committed.
class BatchSpans {
public:
    BatchSpans(Tracer* tracer, const std::optional<std::string>& traceparent) : m_tracer(tracer) {
        if (traceparent) m_parent = parse_traceparent(*traceparent);
    }
    bool on() const { return m_tracer != nullptr; }

    // Before prepare_new_job: whether the line brings a creation context of its own.
    static bool has_own_context(const NewJob& job) { return job.traceparent && parse_traceparent(*job.traceparent); }
    void create(Batch& batch, NewJob& job) {
        SpanRecord span = m_tracer->start("create " + job.queue, SpanKind::producer, m_parent);
        set_messaging_attributes(span, "create", job.queue);
        span.set("wfq.job.type", job.type);
        m_tracer->end(span);
        job.traceparent = span.context().to_traceparent();
        batch.creates.emplace_back(batch.jobs.size(), std::move(span));
    }

    SpanRecord start_send(const Batch& batch) {
        const std::string& queue = batch.jobs.front().queue;
        bool one_queue = std::all_of(batch.jobs.begin(), batch.jobs.end(), [&](const NewJob& j) { return j.queue == queue; });
        // Its context is no message's creation context: CLIENT, as the conventions say.
        SpanRecord send = m_tracer->start(one_queue ? "send " + queue : std::string("send"), SpanKind::client, m_parent);
        set_messaging_attributes(send, "send", one_queue ? queue : std::string());
        send.set("messaging.batch.message_count", static_cast<std::int64_t>(batch.jobs.size()));
        send.links.reserve(batch.jobs.size());
        for (const auto& j : batch.jobs)
            if (auto c = parse_traceparent(*j.traceparent)) send.links.push_back(std::move(*c));
        return send;
    }
    void committed(Batch& batch, SpanRecord& send, const std::vector<EnqueueResult>& results) {
        m_tracer->end(send);
        for (auto& [i, span] : batch.creates) {
            if (i >= results.size()) continue;
            span.set("messaging.message.id", std::to_string(results[i].id));
            if (results[i].duplicate) span.set("wfq.duplicate", std::string("true"));
            m_tracer->export_span(span);
        }
        m_tracer->export_span(send);
    }
    void failed(SpanRecord& send, const char* why) {
        send.fail(why);
        m_tracer->end(send);
        m_tracer->export_span(send);
    }

private:
    Tracer* m_tracer;
    std::optional<TraceContext> m_parent;
};

// Commits parsed NDJSON batches on up to `count` connections at once, in input order: while one
// batch is in the database the next is written on another connection, but a batch takes its ids
// only after the batch before it took its own (ids follow the lines), and commits only after
// every batch before it has. When one fails, the batches after it roll back, so what is
// committed is always the input up to a batch boundary, and the ids are reported in line order.
class OrderedWriters {
public:
    OrderedWriters(Store& store, int count, const NdjsonCommitted& on_committed, BatchSpans& spans)
        : m_first(store), m_on_committed(on_committed), m_spans(spans), m_threads_wanted(std::max(1, count)) {
        for (int i = 0; i < m_threads_wanted; ++i) m_threads.emplace_back([this, i] { run(i); });
    }
    ~OrderedWriters() { stop(); }

    // Hands a parsed batch over, waiting while one already waits; false when a writer failed.
    // full: the batch reached the batch size, so more input probably follows: the other
    // writers connect now, while the first batch is written, not when their first batch waits.
    bool hand_over(Batch& batch, bool full) {
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
    std::int64_t replaced() const { return m_replaced; }

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
            Batch batch;
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
            std::optional<SpanRecord> send;
            if (m_spans.on()) send = m_spans.start_send(batch);
            try {
                if (index > 0 && !own) own = m_first.open_sibling();
                Store& store = index > 0 && own ? *own : m_first;
                auto results = store.enqueue_batch(batch.jobs, [&](EnqueuePhase phase) {
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
                if (send) m_spans.committed(batch, *send, results);
                std::int64_t dup = 0, replaced = 0;
                for (const auto& r : results) {
                    out += std::to_string(r.id);
                    out += '\n';
                    if (r.duplicate) ++dup;
                    if (r.replaced) ++replaced;
                }
                std::lock_guard<std::mutex> lock(m_mutex);
                m_committed += static_cast<std::int64_t>(batch.jobs.size());
                m_duplicates += dup;
                m_replaced += replaced;
                m_on_committed(out, m_committed);  // under the lock: batches are reported in order
                out.clear();
                m_next_commit = seq + 1;
            } catch (const Abandoned&) {
                return;
            } catch (...) {
                if (send) m_spans.failed(*send, "the batch was not committed");
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
    const NdjsonCommitted& m_on_committed;
    BatchSpans& m_spans;
    std::mutex m_mutex;
    std::condition_variable m_cv;  // few waiters, rarely: the reader and the writers share it
    std::deque<std::pair<std::int64_t, Batch>> m_queue;  // parsed, not yet taken
    std::int64_t m_next_seq = 0, m_next_ids = 0, m_next_commit = 0;  // handed over; whose turn to take ids, to commit
    std::int64_t m_failed_seq = std::numeric_limits<std::int64_t>::max();
    std::exception_ptr m_error;
    bool m_reading_done = false;
    bool m_warm = false;  // a full batch was handed over: the other writers connect
    std::int64_t m_committed = 0, m_duplicates = 0, m_replaced = 0;
    int m_threads_wanted;
    std::vector<std::thread> m_threads;  // last: the threads start once the rest is built
};

}  // namespace

NdjsonEnqueueResult enqueue_ndjson(Store& store, std::istream& in, const NdjsonEnqueueOptions& options, Random& random,
                                   const NdjsonCommitted& on_committed) {
    NewJob defaults = options.defaults;
    defaults.type.clear();
    defaults.key.reset();  // a key names one job; it never applies to every line
    NdjsonEnqueueResult result;
    BatchSpans spans(options.tracer && options.tracer->exporting() ? options.tracer : nullptr, options.traceparent);
    // With spans, a line without a traceparent takes its create span's context, a child of the
    // command's own (which is then no default for the lines).
    if (spans.on() && defaults.traceparent) {
        if (!parse_traceparent(*defaults.traceparent))
            result.warnings.push_back("ignoring invalid traceparent '" + *defaults.traceparent + "'; starting new traces");
        defaults.traceparent.reset();
    }
    OrderedWriters writers(store, options.connections, on_committed, spans);
    Batch batch;
    std::int64_t line_no = 0;
    std::string line;
    try {
        while (std::getline(in, line)) {
            ++line_no;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            try {
                NewJob job = parse_job_line(line, defaults);
                const bool own_context = !spans.on() || BatchSpans::has_own_context(job);
                prepare_new_job(job, random, &result.warnings, true);
                if (!own_context) spans.create(batch, job);
                batch.jobs.push_back(std::move(job));
            } catch (const Error& e) {
                std::size_t earlier = batch.jobs.size();
                writers.finish();
                throw Error(ErrorCode::bad_input, "line " + std::to_string(line_no) + ": " + e.what() + "; " +
                                                      std::to_string(writers.committed()) + (writers.committed() == 1 ? " job was" : " jobs were") +
                                                      " committed before it; its batch (" +
                                                      std::to_string(earlier) + " earlier lines) was not committed");
            }
            if (static_cast<int>(batch.jobs.size()) >= options.batch_size && !writers.hand_over(batch, true)) break;
        }
        if (!batch.jobs.empty()) writers.hand_over(batch, false);
    } catch (...) {
        writers.stop();
        throw;
    }
    writers.finish();
    result.committed = writers.committed();
    result.duplicates = writers.duplicates();
    result.replaced = writers.replaced();
    return result;
}

}  // namespace wfq
