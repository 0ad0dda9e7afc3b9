#pragma once
// Internal: the claimer, the worker's main loop. It claims batches of due jobs for the free
// slots (ClaimPolicy says how many), hands them to the executors through the slot table, sleeps
// when there is nothing to claim until an enqueue, a freed slot or the next due job wakes it,
// adopts the jobs of a claim whose reply was lost, and rides out database outages. It also
// serves the completer the claims that ride on its flushes (ClaimSource).
#include "completer.h"
#include "outage.h"
#include "slot_table.h"

#include <wfq/metrics.h>
#include <wfq/store.h>
#include <wfq/worker.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace wfq::engine {

class Claimer final : public ClaimSource {
public:
    // piggyback_unkeyed_only: the completer records on a connection of its own (PostgreSQL), so
    // the claims on its flushes take only jobs without a lock key: they can never fail on the
    // running-lock-key index and take the outcomes down with them (this claimer claims the others).
    Claimer(Store& store, SlotTable& table, OutageMonitor& outage, WorkerMetrics& metrics, Clock& clock,
            const WorkerOptions& options, std::string worker_id, bool piggyback_unkeyed_only);

    // Claims until stop (interrupted is then set), --max-jobs, --max-time or --until-empty.
    // Throws Error(db_unavailable) once an outage outlasts --max-outage, and any other error.
    void run(const std::atomic<bool>& stop, std::int64_t start_ns, Waker& waker, bool& interrupted);

    // --until-drained: whether a job this worker ran still waits for its retry (one read per
    // such job; a job another worker claimed or an operator moved is forgotten).
    bool awaiting_own_retries();

    Reservation reserve_for_flush() override;
    void flushed(const Reservation& reservation, std::vector<Job> jobs) override;

private:
    ClaimRequest request(int limit) const;
    // The jobs of a claim (n slots reserved) go to the executors; the reservation is freed.
    void hand_out(std::vector<Job> jobs, int n, std::int64_t claim_start_ns, std::int64_t claim_steady_ns);
    // A claim failed with the session: it may have committed without us hearing. Jobs running
    // under our id that we do not hold are adopted, not left to the rescuer.
    void adopt_in_doubt(std::int64_t claim_start_ns, std::int64_t claim_steady_ns);
    void idle(const std::atomic<bool>& stop, std::int64_t start_ns, Waker& waker);
    void fail_if_outage_exceeded();
    std::int64_t elapsed_ms(std::int64_t start_ns) const { return (m_clock.steady_ns() - start_ns) / 1'000'000; }

    Store& m_store;
    SlotTable& m_table;
    OutageMonitor& m_outage;
    WorkerMetrics& m_metrics;
    Clock& m_clock;
    const WorkerOptions& m_options;
    const std::string m_worker_id;
    const bool m_piggyback_unkeyed_only;
    bool m_claim_in_doubt = false;
    bool m_until_empty_done = false;
    bool m_due_rechecked = false;  // idle() found a due job unclaimed and claimed once more
};

}  // namespace wfq::engine
