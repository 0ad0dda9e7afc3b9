#include "executor_pool.h"

#include <wfq/log.h>
#include <wfq/process_runner.h>

namespace wfq::engine {

ExecutorPool::ExecutorPool(SlotTable& table, Executor& executor, Completer& completer, Reporter& reporter)
    : m_table(table), m_executor(executor), m_completer(completer), m_reporter(reporter) {}

ExecutorPool::~ExecutorPool() { join(); }

void ExecutorPool::start(int threads) {
    for (int i = 0; i < threads; ++i) m_threads.emplace_back([this] {
        name_this_thread("wfq-exec");
        loop();
    });
}

void ExecutorPool::join() {
    for (auto& t : m_threads)
        if (t.joinable()) t.join();
    m_threads.clear();
}

Verdict ExecutorPool::run(SlotTable::Ready& item) {
    Slot& slot = *item.second;
    Verdict v;
    try {
        if (slot.cancel && slot.shutting_down) {
            // Stopped before it started: give it back untouched.
            Outcome o;
            o.job = slot.ref;
            o.kind = Outcome::Kind::released;
            o.message = "worker stopped before the job started";
            o.handler_ran = false;  // never started: not a release --max-releases counts
            v.decision = Decision::released;
            v.outcome = std::move(o);
        } else if (!slot.lost) {
            slot.started = true;
            log::debug("job started", slot.fields);
            v = m_executor.run(std::move(item.first), slot.ref, slot.claim_start_ns, slot.claim_end_ns, slot.cancel,
                               slot.shutting_down);
        }
    } catch (const std::exception& e) {
        log::error(std::string("running the job failed; it will be rescued: ") + e.what(), slot.fields);
        v = Verdict{};  // lost: nothing to record
    }
    return v;
}

void ExecutorPool::loop() {
    SlotTable::Ready item;
    while (m_table.next_ready(item)) {
        Verdict v = run(item);
        m_table.executor_free(static_cast<std::int64_t>(v.seconds * 1e9));
        if (v.outcome) {
            item.second->finishing = true;
            m_completer.submit(Finished{std::move(item.second), std::move(v)});
        } else {
            m_reporter.lost(*item.second, v);  // nothing to record: the lease is gone
        }
        item = {};
    }
}

}  // namespace wfq::engine
