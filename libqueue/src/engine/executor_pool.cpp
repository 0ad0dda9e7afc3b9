#include "executor_pool.h"

#include <wfq/log.h>
#include <wfq/process_runner.h>

namespace wfq::engine {

ExecutorPool::ExecutorPool(SlotTable& table, Executor& executor, Completer& completer, Reporter& reporter)
    : m_table(table), m_executor(executor), m_completer(completer), m_reporter(reporter) {}

ExecutorPool::~ExecutorPool() { join(); }

void ExecutorPool::start(int threads) {
    if (m_executor.handler().asynchronous()) {
        m_table.limit_running(threads);
        m_threads.emplace_back([this] {
            name_this_thread("wfq-dispatch");
            dispatch_loop();
        });
        return;
    }
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

namespace {

// A job the worker stopped for before it started: given back untouched.
Verdict released_unstarted(const Slot& slot) {
    Outcome o;
    o.job = slot.ref;
    o.kind = Outcome::Kind::released;
    o.message = "worker stopped before the job started";
    o.handler_ran = false;  // never started: not a release --max-releases counts
    Verdict v;
    v.decision = Decision::released;
    v.outcome = std::move(o);
    return v;
}

}  // namespace

Verdict ExecutorPool::run(SlotTable::Ready& item) {
    Slot& slot = *item.second;
    Verdict v;
    try {
        if (slot.cancel && slot.shutting_down) {
            v = released_unstarted(slot);
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

bool ExecutorPool::finish(const std::shared_ptr<Slot>& slot, Verdict v, SlotTable::Ready* next) {
    bool took = m_table.executor_free(static_cast<std::int64_t>(v.seconds * 1e9), next);
    if (v.outcome) {
        slot->finishing = true;
        m_completer.submit(Finished{slot, std::move(v)});
    } else {
        m_reporter.lost(*slot, v);  // nothing to record: the lease is gone
    }
    return took;
}

void ExecutorPool::loop() {
    SlotTable::Ready item;
    while (m_table.next_ready(item)) {
        Verdict v = run(item);
        finish(item.second, std::move(v));
        item = {};
    }
}

void ExecutorPool::dispatch(SlotTable::Ready& item) {
    // The jobs a result hands on (taken on the thread that had it), started here in turn
    // rather than by recursion when a handler calls done at once.
    thread_local std::vector<SlotTable::Ready>* handed_on = nullptr;
    std::vector<SlotTable::Ready> queue;
    queue.push_back(std::move(item));
    item = {};
    auto* outer = handed_on;
    handed_on = &queue;
    for (std::size_t i = 0; i < queue.size(); ++i) {
        std::shared_ptr<Slot> slot = queue[i].second;
        SlotTable::Ready next;
        try {
            if ((slot->cancel && slot->shutting_down) || slot->lost) {
                bool took = finish(slot, slot->lost ? Verdict{} : released_unstarted(*slot), &next);
                if (took) queue.push_back(std::move(next));
                continue;
            }
            slot->started = true;
            log::debug("job started", slot->fields);
            auto attempt = std::make_shared<Executor::Attempt>(m_executor.begin(
                std::move(queue[i].first), slot->ref, slot->claim_start_ns, slot->claim_end_ns));
            if (attempt->early) {
                HandlerResult r = std::move(*attempt->early);
                if (finish(slot, m_executor.end(*attempt, std::move(r), slot->shutting_down), &next))
                    queue.push_back(std::move(next));
                continue;
            }
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                ++m_in_flight;
            }
            m_executor.handler().start(attempt->job, slot->cancel, [this, attempt, slot](HandlerResult r) {
                Verdict v;
                try {
                    v = m_executor.end(*attempt, std::move(r), slot->shutting_down);
                } catch (const std::exception& e) {
                    log::error(std::string("recording the job's result failed; it will be rescued: ") + e.what(), slot->fields);
                    v = Verdict{};
                }
                SlotTable::Ready following;
                bool took = finish(slot, std::move(v), &following);
                if (took) {
                    if (handed_on) handed_on->push_back(std::move(following));
                    else dispatch(following);
                }
                std::lock_guard<std::mutex> lock(m_mutex);
                if (--m_in_flight == 0) m_idle.notify_all();
            });
        } catch (const std::exception& e) {
            log::error(std::string("running the job failed; it will be rescued: ") + e.what(), slot->fields);
            if (finish(slot, Verdict{}, &next)) queue.push_back(std::move(next));
        }
    }
    handed_on = outer;
}

void ExecutorPool::dispatch_loop() {
    SlotTable::Ready item;
    while (m_table.next_ready(item)) dispatch(item);
    std::unique_lock<std::mutex> lock(m_mutex);
    m_idle.wait(lock, [&] { return m_in_flight == 0; });
}

}  // namespace wfq::engine
