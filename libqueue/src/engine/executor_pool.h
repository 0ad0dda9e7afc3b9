#pragma once
// Internal: the executor pool. With a handler that blocks per job, --concurrency threads that
// each take the next claimed job from the slot table, run it through the Executor, and hand its
// verdict to the completer (or, with nothing to record, straight to the reporter). With an
// asynchronous handler (Handler::asynchronous(), stream handlers), one dispatcher thread starts
// up to --concurrency jobs and blocks on none of them: each job's result arrives on the
// handler's thread, which records it and starts the next ready job itself.
#include "completer.h"
#include "executor.h"
#include "reporter.h"
#include "slot_table.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace wfq::engine {

class ExecutorPool {
public:
    ExecutorPool(SlotTable& table, Executor& executor, Completer& completer, Reporter& reporter);
    ~ExecutorPool();
    // threads: --concurrency (the jobs in flight with an asynchronous handler).
    void start(int threads);
    // Joins the threads; they end once the slot table closes with no job waiting (and, with an
    // asynchronous handler, no job in flight).
    void join();

private:
    void loop();
    void dispatch_loop();
    // The verdict on one claimed job (released untouched when the worker stopped before it started).
    Verdict run(SlotTable::Ready& item);
    // Asynchronous handler: starts item's job, or decides it at once (released, lost, no config).
    void dispatch(SlotTable::Ready& item);
    // The verdict goes to the completer or the reporter; the executor is free. With next, the
    // next ready job is taken when the run limit allows (true).
    bool finish(const std::shared_ptr<Slot>& slot, Verdict v, SlotTable::Ready* next = nullptr);

    SlotTable& m_table;
    Executor& m_executor;
    Completer& m_completer;
    Reporter& m_reporter;
    std::vector<std::thread> m_threads;
    std::mutex m_mutex;
    std::condition_variable m_idle;  // the last asynchronous job in flight finished
    int m_in_flight = 0;             // asynchronous jobs started and not finished
};

}  // namespace wfq::engine
