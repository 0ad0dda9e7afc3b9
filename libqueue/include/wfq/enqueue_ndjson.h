#pragma once
// `wfq enqueue --ndjson`: one job per line, committed in batches, in input order.
#include <wfq/job.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace wfq {

class Random;
class Store;
class Tracer;

struct NdjsonEnqueueOptions {
    NewJob defaults;       // fields a line leaves out (its type and key are never taken from here)
    int batch_size = 1000;  // lines per transaction
    // Batches in the database at once, each on its own connection (the first: the store given).
    // PostgreSQL applies a COPY on one core, so a second connection writes the next batch on
    // another meanwhile; SQLite and a transaction pooler take 1.
    int connections = 1;
    // When it exports spans: per the OpenTelemetry messaging conventions for batch publishing,
    // a `create QUEUE` span (producer) per line without a traceparent of its own, whose context
    // the job takes, and a `send` span (client) per batch linking every job's creation context,
    // both children of traceparent (the command's TRACEPARENT) when it is set.
    Tracer* tracer = nullptr;
    std::optional<std::string> traceparent;
};

struct NdjsonEnqueueResult {
    std::int64_t committed = 0, duplicates = 0;  // duplicates: lines whose key named an existing job
    std::int64_t replaced = 0;                   // ... which took the line's payload (key modes)
    std::vector<std::string> warnings;          // from prepare_new_job (dropped traceparents, ...)
};

// Called after each batch commits, in input order, with the batch's ids (one per line, each
// ending in '\n') and the count committed so far.
using NdjsonCommitted = std::function<void(const std::string& ids, std::int64_t committed)>;

// Reads in to its end and enqueues every non-blank line (parse_job_line, prepare_new_job). A
// batch takes its ids only after the batch before it took its own and commits only after it,
// so ids follow the lines; when a batch fails the ones after it roll back, so what is committed
// is always the input up to a batch boundary. A malformed line throws Error(bad_input) naming
// it, how many jobs were committed before it, and that its batch was not; other errors are
// rethrown as the first failing batch raised them.
NdjsonEnqueueResult enqueue_ndjson(Store& store, std::istream& in, const NdjsonEnqueueOptions& options, Random& random,
                                   const NdjsonCommitted& on_committed);

}  // namespace wfq
