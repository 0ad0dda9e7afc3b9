#include "claimer.h"

#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/log.h>
#include <wfq/trace.h>

#include <algorithm>

namespace wfq::engine {

Claimer::Claimer(Store& store, SlotTable& table, OutageMonitor& outage, WorkerMetrics& metrics, Clock& clock,
                 const WorkerOptions& options, std::string worker_id, bool piggyback_unkeyed_only)
    : m_store(store), m_table(table), m_outage(outage), m_metrics(metrics), m_clock(clock), m_options(options),
      m_worker_id(std::move(worker_id)), m_piggyback_unkeyed_only(piggyback_unkeyed_only) {}

ClaimRequest Claimer::request(int limit) const {
    return ClaimRequest{m_worker_id, m_options.queues, m_options.types, limit, m_options.lease_ms};
}

void Claimer::hand_out(std::vector<Job> jobs, int n, std::int64_t claim_start_ns, std::int64_t claim_steady_ns) {
    const std::int64_t claim_end_ns = unix_now_ns();
    if (n > 0 || !jobs.empty()) m_metrics.claim(static_cast<double>(m_clock.steady_ns() - claim_steady_ns) / 1e9, jobs.size());
    m_table.hand_out(std::move(jobs), n, claim_start_ns, claim_end_ns, claim_steady_ns);
}

ClaimSource::Reservation Claimer::reserve_for_flush() {
    Reservation r;
    r.request = request(m_table.reserve_claim());
    r.request.unkeyed_only = m_piggyback_unkeyed_only;
    r.start_ns = unix_now_ns();
    r.steady_ns = m_clock.steady_ns();
    return r;
}

void Claimer::flushed(const Reservation& reservation, std::vector<Job> jobs) {
    hand_out(std::move(jobs), reservation.request.limit, reservation.start_ns, reservation.steady_ns);
}

void Claimer::fail_if_outage_exceeded() {
    if (m_outage.exceeded())
        throw Error(ErrorCode::db_unavailable, "the database has been unavailable for longer than --max-outage (" +
                                                   format_duration_ms(m_options.max_outage_ms) + "); stopping");
}

void Claimer::adopt_in_doubt(std::int64_t claim_start_ns, std::int64_t claim_steady_ns) {
    std::vector<Job> adopted;
    for (auto& job : m_store.running_jobs_of(m_worker_id))
        if (!m_table.holds(job.id)) adopted.push_back(std::move(job));
    m_claim_in_doubt = false;
    m_outage.ok();
    if (!adopted.empty())
        log::info("adopted jobs claimed before the connection was lost",
                  {{"worker_id", m_worker_id}, {"jobs", std::to_string(adopted.size())}});
    hand_out(std::move(adopted), 0, claim_start_ns, claim_steady_ns);
}

void Claimer::run(const std::atomic<bool>& stop, std::int64_t start_ns, Waker& waker, bool& interrupted) {
    int failures = 0;
    for (;;) {
        if (stop) {
            interrupted = true;
            return;
        }
        fail_if_outage_exceeded();
        if (m_options.max_time_ms > 0 && elapsed_ms(start_ns) >= m_options.max_time_ms) return;
        if (m_table.max_jobs_claimed()) return;
        const std::int64_t claim_start = unix_now_ns(), claim_steady = m_clock.steady_ns();
        int n = 0;
        try {
            if (m_claim_in_doubt) {
                adopt_in_doubt(claim_start, claim_steady);
                continue;
            }
            n = m_table.reserve_claim();
            if (n == 0) {
                m_table.wait_for_room(stop);
                continue;
            }
            std::vector<Job> jobs = m_store.claim_batch(request(n));
            // A full batch: more may be due; claim again at once.
            const bool more = !jobs.empty();
            const bool full = static_cast<int>(jobs.size()) >= n;
            m_outage.ok();
            failures = 0;
            hand_out(std::move(jobs), n, claim_start, claim_steady);
            n = 0;
            if (full || more) continue;
            idle(stop, start_ns, waker);
            if (m_until_empty_done) return;
        } catch (const Error& e) {
            if (n > 0) hand_out({}, n, claim_start, claim_steady);
            if (e.code() != ErrorCode::db_unavailable) throw;
            m_claim_in_doubt = true;
            m_outage.failed("claimer", e.what());
            fail_if_outage_exceeded();
            m_table.pause(OutageMonitor::pause_ms(++failures), stop);
        }
    }
}

// Nothing to claim: sleep until an enqueue wakes us, a slot frees, the next scheduled job is
// due, or the poll interval passes, in short slices so that a stop request is seen promptly.
void Claimer::idle(const std::atomic<bool>& stop, std::int64_t start_ns, Waker& waker) {
    // Held jobs are counted before next_due reads the table: an outcome is recorded before
    // its job stops counting, so with none held, next_due sees every retry and resumed wait.
    // (Counted after, a job retried in between was missed, and --until-empty stopped with a
    // retry due 100 ms later.)
    const std::size_t held = m_table.held();
    std::int64_t wait_ms = m_options.poll_ms;
    if (auto due = m_store.next_due(m_options.queues, m_options.types)) {
        std::int64_t until_due = *due - m_store.db_now();
        if (until_due > 0) {
            wait_ms = std::min(wait_ms, until_due);
        } else if (!m_due_rechecked) {
            // Due but not claimed: it became due after the claim looked (a resumed wait,
            // a retry), or its lock key is busy. Claim once more to tell which.
            m_due_rechecked = true;
            return;
        } else {
            m_metrics.lock_wait();  // blocked by its lock key: poll
        }
    }
    m_due_rechecked = false;
    // --until-empty: nothing held here, nothing claimable, nothing due within the poll.
    // --until-drained also waits for the retries of jobs this worker ran.
    if (m_options.until_empty && held == 0 && wait_ms >= m_options.poll_ms && !awaiting_own_retries()) {
        m_until_empty_done = true;
        return;
    }
    std::int64_t waited = 0;
    std::size_t busy_before = m_table.held();
    bool quiet = true;  // the whole poll passed with nothing to do
    while (waited < wait_ms && !stop) {
        std::int64_t slice = std::min<std::int64_t>(100, wait_ms - waited);
        if (m_options.max_time_ms > 0)
            slice = std::max<std::int64_t>(1, std::min(slice, m_options.max_time_ms - elapsed_ms(start_ns)));
        if (waker.wait(slice)) break;
        waited += slice;
        if (m_table.held() != busy_before) {  // a job finished: it may have freed a lock key
            quiet = false;
            break;
        }
        if (m_options.max_time_ms > 0 && elapsed_ms(start_ns) >= m_options.max_time_ms) break;
    }
    // Work may follow (a job due, a lock key freed, the worker stopping): the waker need not
    // watch meanwhile. After a quiet poll the next wait follows at once, so it keeps watching.
    if (!quiet || wait_ms < m_options.poll_ms || stop) waker.rest();
}

bool Claimer::awaiting_own_retries() {
    std::vector<std::int64_t> gone;
    for (auto id : m_table.retrying_ids()) {
        auto job = m_store.get_job(id);
        if (!job || job->state != JobState::pending || job->attempt == 0) gone.push_back(id);
    }
    const bool waiting = m_table.forget_retrying(gone);
    return m_options.until_drained && waiting;
}

}  // namespace wfq::engine
