#pragma once
// Internal: the completer, the only writer of outcomes. Outcomes are batched like a group
// commit: while one batch is in the database the next one fills, and it is sent as soon as the
// previous one returns (no timer: an outcome alone waits for no one). Batches are capped and
// submit() blocks when too many outcomes wait (backpressure). Each flush also carries a claim
// for the worker's free slots, asked of the claimer through ClaimSource.
#include "outage.h"
#include "outcome.h"
#include "slot.h"

#include <wfq/clock.h>
#include <wfq/live_log.h>
#include <wfq/store.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace wfq::engine {

// One attempt on its way to the database: its verdict (whose outcome the completer moves into
// the batch it records, and hands back beside it to Done) and the slot that holds the job until then.
struct Finished {
    std::shared_ptr<Slot> slot;
    Verdict verdict;
};

// What the completer asks of the claimer: a claim to ride on each flush of outcomes, in the same
// transaction (SQLite: the one writer per process; PostgreSQL: a round trip and a commit saved).
class ClaimSource {
public:
    struct Reservation {
        ClaimRequest request;  // limit 0: no slot free, claim nothing
        std::int64_t start_ns = 0, steady_ns = 0;
    };
    virtual ~ClaimSource() = default;
    // Reserves the free slots for the claim of the flush about to be sent.
    virtual Reservation reserve_for_flush() = 0;
    // The flush returned (jobs: what its claim got; empty when it failed): frees the reservation.
    virtual void flushed(const Reservation& reservation, std::vector<Job> jobs) = 0;
};

class Completer {
public:
    // Called on the completer's thread once an outcome's fate is known. unknown: the database
    // stayed away past --max-outage, or the commit's outcome could not be learned.
    using Done = std::function<void(const Finished&, const Outcome&, OutcomeStatus status, bool unknown)>;
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
        // Called on the completer's thread after each batch's outcomes went to Done.
        std::function<void()> batch_done;
        // Running attempts' logs, written every live_log_interval_ms (on clock) between
        // flushes, up to live_log_max_bytes of text per write (the rest goes next time); not
        // during an outage. Null: logs go with the outcomes only.
        LiveLogs* live_logs = nullptr;
        Clock* clock = nullptr;  // required with live_logs
        std::int64_t live_log_interval_ms = 500;
        std::size_t live_log_max_bytes = 1 << 20;
    };

    // Records on store (Store::record_outcomes_and_claim), claiming for claims.
    Completer(Store& store, ClaimSource& claims, Done done, OutageMonitor& outage, Options options);
    ~Completer();

    void start();  // runs flush_loop on a thread of its own
    // Queues an attempt whose verdict has an outcome; blocks while max_pending already wait.
    void submit(Finished finished);
    // Flushes everything queued (giving up when the outage is exceeded) and joins the thread.
    void stop();
    // One flush of up to max_batch queued outcomes on the caller's thread; false when none
    // waited. For tests and for stop().
    bool flush_once();
    std::size_t pending() const;
    // Writes the running attempts' logs that changed, when live_log_interval_ms has passed since
    // the last write (or always, with force); returns how many. For tests and for flush_loop.
    std::size_t write_live_logs(bool force = false);

private:
    void flush_loop();
    void record_batch(std::vector<Finished>& batch);
    std::vector<OutcomeStatus> record(const std::vector<Outcome>& outcomes);

    Store& m_store;
    ClaimSource& m_claims;
    Done m_done;
    OutageMonitor& m_outage;
    Options m_options;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv, m_space;
    std::deque<Finished> m_queue;
    bool m_stopping = false;
    std::thread m_thread;
    std::int64_t m_next_live_ns = 0;  // completer thread only
    bool m_live_warned = false;
};

}  // namespace wfq::engine
