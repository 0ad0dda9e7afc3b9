#pragma once
// Internal: the completer, the only writer of outcomes. Outcomes are batched like a group
// commit: while one batch is in the database the next one fills, and it is sent as soon as the
// previous one returns (no timer: an outcome alone waits for no one). Batches are capped and
// submit() blocks when too many outcomes wait (backpressure).
#include "outage.h"

#include <wfq/store.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wfq::engine {

class Completer {
public:
    // Records a batch (Store::record_outcomes); one status per outcome.
    using Record = std::function<std::vector<OutcomeStatus>(const std::vector<Outcome>&)>;
    // Called on the completer's thread once an outcome's fate is known. unknown: the database
    // stayed away past --max-outage, or the commit's outcome could not be learned.
    using Done = std::function<void(const Outcome&, OutcomeStatus status, bool unknown)>;
    struct Options {
        std::size_t max_batch = 500;
        std::size_t max_pending = 4000;
        std::function<void(std::int64_t ms)> sleep;  // pauses during an outage; real sleep when empty
        // Added to the completer thread's nice value. Where the database's own process records
        // the outcomes (PostgreSQL), a nicer completer gives way to the handlers on a busy
        // machine: it wakes later for its next flush, which then carries more outcomes, and
        // the database works through fewer, larger flushes. On an idle machine it changes
        // nothing: an outcome alone is still sent at once.
        int nice = 0;
    };

    Completer(Record record, Done done, OutageMonitor& outage, Options options);
    ~Completer();

    void start();  // runs flush_loop on a thread of its own
    // Queues an outcome; blocks while max_pending outcomes already wait.
    void submit(Outcome outcome);
    // Flushes everything queued (giving up when the outage is exceeded) and joins the thread.
    void stop();
    // One flush of up to max_batch queued outcomes on the caller's thread; false when none
    // waited. For tests and for stop().
    bool flush_once();
    std::size_t pending() const;

private:
    void flush_loop();
    void record_batch(std::vector<Outcome>& batch);

    Record m_record;
    Done m_done;
    OutageMonitor& m_outage;
    Options m_options;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv, m_space;
    std::deque<Outcome> m_queue;
    bool m_stopping = false;
    std::thread m_thread;
};

}  // namespace wfq::engine
