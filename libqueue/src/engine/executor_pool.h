#pragma once
// Internal: the executor pool, --concurrency threads that each take the next claimed job from
// the slot table, run it through the Executor, and hand its verdict to the completer (or, with
// nothing to record, straight to the reporter).
#include "completer.h"
#include "executor.h"
#include "reporter.h"
#include "slot_table.h"

#include <thread>
#include <vector>

namespace wfq::engine {

class ExecutorPool {
public:
    ExecutorPool(SlotTable& table, Executor& executor, Completer& completer, Reporter& reporter);
    ~ExecutorPool();
    void start(int threads);
    // Joins the threads; they end once the slot table closes with no job waiting.
    void join();

private:
    void loop();
    // The verdict on one claimed job (released untouched when the worker stopped before it started).
    Verdict run(SlotTable::Ready& item);

    SlotTable& m_table;
    Executor& m_executor;
    Completer& m_completer;
    Reporter& m_reporter;
    std::vector<std::thread> m_threads;
};

}  // namespace wfq::engine
