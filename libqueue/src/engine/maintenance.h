#pragma once
// Internal: a worker's maintenance on a thread and timer of its own, so the lease keeper never
// waits behind it: the rescuer (expired leases and dead workers' jobs back to pending, one
// rescuer at a time), the retention pruner (one at a time), the schedule ticker (each tick
// enqueued once across workers), and the reporter's flush of spans and the metrics file. The
// database tasks pause during an outage.
#include "outage.h"
#include "reporter.h"

#include <wfq/store.h>
#include <wfq/worker.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace wfq::engine {

class Maintenance {
public:
    Maintenance(Store& store, OutageMonitor& outage, Reporter& reporter, Clock& clock, const WorkerOptions& options,
                std::string worker_id);
    ~Maintenance();
    void start();
    void stop();  // ends the thread after the task under way
    // One pass at now_ms (steady): each task that is due. Returns when the next is due.
    std::int64_t pass(std::int64_t now_ms);

    // Retention runs ten times per retention period (at least every minute, at most every
    // second): many small deletes rather than a few large ones, so that the dead rows each
    // vacuum finds stay about the same (a prune every 15 s under --retention 1m deleted 30,000
    // rows at once, and the dead-row count swung with how prunes and vacuums fell).
    static std::int64_t prune_every_ms(std::int64_t retention_ms);

private:
    void run();
    void rescue();
    void prune();
    void tick_schedules();

    Store& m_store;
    OutageMonitor& m_outage;
    Reporter& m_reporter;
    Clock& m_clock;
    const WorkerOptions& m_options;
    const std::string m_worker_id;
    std::int64_t m_next_flush = 0, m_next_rescue, m_next_prune, m_next_schedules;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stopping = false;
    std::thread m_thread;
};

}  // namespace wfq::engine
