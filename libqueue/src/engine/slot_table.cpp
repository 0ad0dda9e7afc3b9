#include "slot_table.h"

#include <wfq/log.h>

#include <algorithm>
#include <chrono>

namespace wfq::engine {

SlotTable::SlotTable(std::string worker_id, std::int64_t lease_ms, int concurrency, int prefetch, std::int64_t max_jobs)
    : m_worker_id(std::move(worker_id)), m_lease_ms(lease_ms), m_max_jobs(max_jobs), m_policy(concurrency, prefetch) {}

int SlotTable::reserve_claim() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_closing || m_stopping_claims) return 0;
    int n = claim_room();
    if (m_max_jobs > 0)
        n = static_cast<int>(std::min<std::int64_t>(n, std::max<std::int64_t>(0, m_max_jobs - m_stats.claimed - m_reserved)));
    m_reserved += n;
    return n;
}

void SlotTable::hand_out(std::vector<Job> jobs, int n, std::int64_t claim_start_ns, std::int64_t claim_end_ns,
                         std::int64_t claim_steady_ns) {
    bool wake_executor = false, wake_claimer = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_reserved -= n;
        for (auto& job : jobs) {
            auto slot = std::make_shared<Slot>();
            slot->ref = JobRef{job.id, m_worker_id, job.attempt};
            slot->claim_start_ns = claim_start_ns;
            slot->claim_end_ns = claim_end_ns;
            slot->lease_until_ns = claim_steady_ns + m_lease_ms * 1'000'000;
            slot->claimed_steady_ns = claim_steady_ns;
            slot->fields = {{"job_id", std::to_string(job.id)}, {"type", job.type},
                            {"attempt", std::to_string(job.attempt)}, {"correlation_id", job.correlation_id},
                            {"worker_id", m_worker_id}};
            m_in_flight[job.id] = slot;
            m_retrying.erase(job.id);
            m_ready.emplace_back(std::move(job), std::move(slot));
            ++m_stats.claimed;
        }
        wake_executor = !jobs.empty() && m_idle_executors > 0;
        // Only when the returned reservation lets it claim: every flush of outcomes comes
        // through here (with its piggybacked claim, often of nothing), and waking the
        // claimer each time cost a wake-up and a context switch per flush, for nothing.
        wake_claimer = m_claimer_waiting && claim_room() > 0;
    }
    if (wake_executor) m_ready_cv.notify_one();
    if (wake_claimer) m_slot_cv.notify_one();
}

void SlotTable::wait_for_room(const std::atomic<bool>& stop) {
    // Every executor busy (or the claims of a flush under way): wait for a slot.
    std::unique_lock<std::mutex> lock(m_mutex);
    m_claimer_waiting = true;
    m_slot_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return claim_room() > 0 || stop; });
    m_claimer_waiting = false;
}

void SlotTable::pause(std::int64_t ms, const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return bool(stop); });
}

bool SlotTable::max_jobs_claimed() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_max_jobs > 0 && m_stats.claimed >= m_max_jobs;
}

bool SlotTable::holds(std::int64_t job_id) {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_in_flight.count(job_id) > 0;
}

std::size_t SlotTable::held() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_in_flight.size();
}

bool SlotTable::next_ready(Ready& item) {
    std::unique_lock<std::mutex> lock(m_mutex);
    ++m_idle_executors;
    m_ready_cv.wait(lock, [&] { return (m_closing && m_ready.empty()) || (!m_ready.empty() && may_run_next()); });
    --m_idle_executors;
    if (m_ready.empty()) return false;
    item = std::move(m_ready.front());
    m_ready.pop_front();
    ++m_running;
    // A claim wakes one executor; each wakes the next while jobs wait, so the thread that
    // claimed (often the completer) pays for one wake-up, not one per job.
    if (!m_ready.empty() && m_idle_executors > 0) m_ready_cv.notify_one();
    // Fewer jobs wait now: the claimer may have a claim to make.
    if (m_claimer_waiting && claim_room() > 0) m_slot_cv.notify_one();
    return true;
}

bool SlotTable::executor_free(std::int64_t run_ns, Ready* next) {
    bool wake_claimer, wake_executor = false, took = false;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        --m_running;
        if (run_ns > 0) m_policy.observe(run_ns);
        if (next && !m_ready.empty() && may_run_next()) {
            *next = std::move(m_ready.front());
            m_ready.pop_front();
            ++m_running;
            took = true;
        }
        // A dispatcher held back by the run limit (none waits with jobs ready otherwise).
        wake_executor = m_run_limit < kNoRunLimit && m_idle_executors > 0 && !m_ready.empty() && may_run_next();
        // Woken only when it would claim now: not once per job while prefetched jobs still
        // wait (a wake-up, and a context switch, per job for nothing).
        wake_claimer = m_claimer_waiting && claim_room() > 0;
    }
    if (wake_executor) m_ready_cv.notify_one();
    if (wake_claimer) m_slot_cv.notify_one();  // an executor is free: the claimer may claim
    return took;
}

void SlotTable::finish(std::int64_t job_id, Decision decision) {
    bool drained;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        switch (decision) {
            case Decision::completed: ++m_stats.completed; break;
            case Decision::retried: ++m_stats.retried; break;
            case Decision::failed: ++m_stats.failed; break;
            case Decision::released: ++m_stats.released; break;
            case Decision::snoozed: ++m_stats.snoozed; break;
            case Decision::parked: ++m_stats.parked; break;
            case Decision::deferred: ++m_stats.deferred; break;
            case Decision::lost: ++m_stats.lost; break;
        }
        m_in_flight.erase(job_id);
        drained = m_in_flight.empty();
    }
    if (drained) m_cv.notify_all();  // shutdown and the keeper wait for the last job
}

void SlotTable::retrying(std::int64_t job_id, std::int64_t due_ms) {
    if (!m_track_retries) return;
    std::lock_guard<std::mutex> lock(m_mutex);
    m_retrying[job_id] = due_ms;
}

void SlotTable::add_rescued(std::int64_t n) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stats.rescued += n;
}

WorkerStats SlotTable::stats() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_stats;
}

std::vector<std::int64_t> SlotTable::retrying_ids() {
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<std::int64_t> ids;
    for (const auto& [id, due] : m_retrying) ids.push_back(id);
    return ids;
}

bool SlotTable::forget_retrying(const std::vector<std::int64_t>& ids) {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (auto id : ids) m_retrying.erase(id);
    return !m_retrying.empty();
}

void SlotTable::fill_retries(WorkerStats& stats, std::int64_t now_ms) {
    std::lock_guard<std::mutex> lock(m_mutex);
    stats.retrying_later = static_cast<std::int64_t>(m_retrying.size());
    if (m_retrying.empty()) return;
    std::int64_t next = INT64_MAX;
    for (const auto& [id, due] : m_retrying) next = std::min(next, due);
    stats.next_retry_in_ms = std::max<std::int64_t>(0, next - now_ms);
}

bool SlotTable::keeper_wait(std::int64_t ms, std::vector<std::shared_ptr<Slot>>& slots) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_cv.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(0, ms)),
                  [&] { return (m_closing && m_in_flight.empty()) || m_renew_now; });
    if (m_closing && m_in_flight.empty()) return false;
    slots.clear();
    for (auto& [id, slot] : m_in_flight) slots.push_back(slot);
    return true;
}

bool SlotTable::fence_wait(std::int64_t ms, std::vector<std::shared_ptr<Slot>>& slots) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_cv.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(0, ms)), [&] { return m_closing && m_in_flight.empty(); });
    if (m_closing && m_in_flight.empty()) return false;
    slots.clear();
    for (auto& [id, slot] : m_in_flight) slots.push_back(slot);
    return true;
}

void SlotTable::request_renewal() {
    m_renew_now = true;
    m_cv.notify_all();
}

void SlotTable::stop_claims() {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stopping_claims = true;
}

void SlotTable::release_waiting() {
    bool wake_executor;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        for (auto& [job, slot] : m_ready) {
            slot->shutting_down = true;
            slot->cancel = true;
        }
        // Cancelled jobs pass the run limit (may_run_next): an executor asleep at the limit
        // takes them now, to give them back at once, not when a running job ends.
        wake_executor = !m_ready.empty() && m_idle_executors > 0;
    }
    if (wake_executor) m_ready_cv.notify_all();
}

bool SlotTable::drain_within(std::int64_t grace_ms) {
    std::unique_lock<std::mutex> lock(m_mutex);
    if (m_cv.wait_for(lock, std::chrono::milliseconds(grace_ms), [&] { return m_in_flight.empty(); })) return true;
    log::warn("grace period over; stopping handlers and giving their jobs back", {{"running", std::to_string(m_in_flight.size())}});
    for (auto& [id, slot] : m_in_flight) {
        slot->shutting_down = true;
        slot->cancel = true;
    }
    return false;
}

void SlotTable::close() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_closing = true;
    }
    m_cv.notify_all();
    m_slot_cv.notify_all();
    m_ready_cv.notify_all();
}

void SlotTable::clear() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_in_flight.clear();
    }
    m_cv.notify_all();
}

}  // namespace wfq::engine
