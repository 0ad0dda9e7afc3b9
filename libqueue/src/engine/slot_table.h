#pragma once
// Internal: the state a worker's services share, under one mutex: the jobs it holds (claimed
// until their outcome is recorded), the jobs waiting for an executor, the claims under way, the
// counts for WorkerStats, and the wake-ups between claimer, executors, keeper and shutdown.
//
// Wake-ups cost more than a no-op job on this kind of machine, so each condition variable has
// one kind of waiter and is notified only when that waiter is there to be woken; every method
// below takes the mutex once.
#include "claim_policy.h"
#include "outcome.h"
#include "slot.h"

#include <wfq/job.h>
#include <wfq/worker.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace wfq::engine {

class SlotTable {
public:
    using Ready = std::pair<Job, std::shared_ptr<Slot>>;

    SlotTable(std::string worker_id, std::int64_t lease_ms, int concurrency, int prefetch, std::int64_t max_jobs);

    // ---- the claimer ---------------------------------------------------------------------
    // Reserves the free slots for a claim about to be made (0: none free, claims stopped, or
    // --max-jobs reached).
    int reserve_claim();
    // Hands claimed jobs to the executors (a slot each, leased from claim_steady_ns) and frees
    // the reservation of n slots.
    void hand_out(std::vector<Job> jobs, int n, std::int64_t claim_start_ns, std::int64_t claim_end_ns,
                  std::int64_t claim_steady_ns);
    // Waits up to 100 ms for room to claim (or stop).
    void wait_for_room(const std::atomic<bool>& stop);
    // Waits up to ms, or until stop.
    void pause(std::int64_t ms, const std::atomic<bool>& stop);
    bool max_jobs_claimed();
    bool holds(std::int64_t job_id);
    std::size_t held();

    // ---- the executors -------------------------------------------------------------------
    // The next job to run; false once the worker closes with none waiting.
    bool next_ready(Ready& item);
    // An executor is free again; run_ns > 0 tells the claim policy how long the handler ran.
    // With next (an asynchronous handler's), the caller takes the next ready job at once when
    // one waits and the run limit allows (true), instead of waking the dispatcher for it.
    bool executor_free(std::int64_t run_ns, Ready* next = nullptr);
    // At most n jobs run at once (an asynchronous handler's single dispatcher: --concurrency);
    // set before the executors start.
    void limit_running(int n) { m_run_limit = n; }

    // ---- the reporter --------------------------------------------------------------------
    // The attempt is over (recorded, or nothing to record): counted, and its slot freed.
    void finish(std::int64_t job_id, Decision decision);
    // A job this worker ran waits in backoff until due_ms (steady ms) for its retry. Kept only by
    // a worker that ends by itself (--until-empty, --until-drained), which reports and forgets
    // them: a long-lived worker's map would grow with every retry another worker takes.
    void retrying(std::int64_t job_id, std::int64_t due_ms);
    void track_retries(bool on) { m_track_retries = on; }
    void add_rescued(std::int64_t n);
    WorkerStats stats();
    // Under --until-drained: the jobs this worker ran that wait for a retry, and forgetting
    // those that no longer do (true: some still wait).
    std::vector<std::int64_t> retrying_ids();
    bool forget_retrying(const std::vector<std::int64_t>& ids);
    // Sets retrying_later and next_retry_in_ms of stats from the retries still awaited.
    void fill_retries(WorkerStats& stats, std::int64_t now_ms);

    // ---- the lease keeper ----------------------------------------------------------------
    // Waits up to ms for a renewal request or the end; fills slots with the jobs held. False
    // once the worker closed and holds no job (the keeper ends).
    bool keeper_wait(std::int64_t ms, std::vector<std::shared_ptr<Slot>>& slots);
    // The fence's: waits up to ms for the end; fills slots with the jobs held. False once the
    // worker closed and holds no job.
    bool fence_wait(std::int64_t ms, std::vector<std::shared_ptr<Slot>>& slots);
    // An operator cancelled a running job: the keeper renews (and stops its handler) at once.
    void request_renewal();
    bool take_renewal_request() { return m_renew_now.exchange(false); }

    // ---- shutdown ------------------------------------------------------------------------
    void stop_claims();
    // Jobs not started go back at once (stopping: a signal or the time budget).
    void release_waiting();
    // Waits up to grace_ms for every held job to finish; false (and every handler is told to
    // stop) when the grace ran out.
    bool drain_within(std::int64_t grace_ms);
    // Waits until every held job finished or outage_exceeded() says to give up.
    template <typename Exceeded>
    void drain(Exceeded outage_exceeded) {
        std::unique_lock<std::mutex> lock(m_mutex);
        while (!m_in_flight.empty() && !outage_exceeded()) m_cv.wait_for(lock, std::chrono::milliseconds(100));
    }
    // No more work: executors, claimer and keeper end once what they hold is done.
    void close();
    // After the completer stopped: forgets what is left, so the keeper ends.
    void clear();

private:
    // Under m_mutex: how many jobs the claimer would ask for now (the claim policy's limit of
    // the executors busy and the jobs claimed but not started, reserved included).
    int claim_room() const { return m_policy.limit(m_running, static_cast<int>(m_ready.size()) + m_reserved); }
    // Under m_mutex, m_ready not empty: its first job may start (a job given back untouched
    // at shutdown goes whatever the run limit).
    bool may_run_next() const { return m_running < m_run_limit || m_ready.front().second->cancel; }

    const std::string m_worker_id;
    const std::int64_t m_lease_ms, m_max_jobs;
    ClaimPolicy m_policy;

    std::mutex m_mutex;
    std::condition_variable m_cv;        // closing, all jobs drained, renew now (keeper, shutdown)
    std::condition_variable m_slot_cv;   // a slot freed or a claim's reservation returned (the claimer)
    std::condition_variable m_ready_cv;  // jobs ready for an executor (one wakes, and wakes the next)
    int m_idle_executors = 0;            // executors waiting on m_ready_cv
    bool m_claimer_waiting = false;      // the claimer waits on m_slot_cv
    std::map<std::int64_t, std::shared_ptr<Slot>> m_in_flight;  // claimed until the outcome is recorded
    // Jobs this worker ran that wait in backoff for a retry (id -> steady ms when due), until it
    // (or anyone) claims them again; for --until-empty's last line and --until-drained.
    bool m_track_retries = false;  // set before the services start
    std::map<std::int64_t, std::int64_t> m_retrying;
    std::deque<Ready> m_ready;  // claimed, waiting for an executor
    int m_running = 0;          // handlers running now
    static constexpr int kNoRunLimit = 1 << 30;
    int m_run_limit = kNoRunLimit;  // see limit_running()
    int m_reserved = 0;         // slots of claims under way
    bool m_closing = false;
    bool m_stopping_claims = false;  // the claim loop has ended: claim no more
    std::atomic<bool> m_renew_now{false};
    WorkerStats m_stats;
};

}  // namespace wfq::engine
