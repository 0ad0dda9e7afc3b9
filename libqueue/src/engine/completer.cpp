#include "completer.h"

#include <wfq/errors.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>

#include <chrono>

namespace wfq::engine {

Completer::Completer(Store& store, ClaimSource& claims, Done done, OutageMonitor& outage, Options options)
    : m_store(store), m_claims(claims), m_done(std::move(done)), m_outage(outage), m_options(std::move(options)) {
    if (!m_options.sleep)
        m_options.sleep = [](std::int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
    if (m_options.max_batch < 1) m_options.max_batch = 1;
    if (m_options.max_pending < m_options.max_batch) m_options.max_pending = m_options.max_batch;
}

Completer::~Completer() { stop(); }

void Completer::start() {
    m_thread = std::thread([this] {
        name_this_thread("wfq-complete");
        if (m_options.nice > 0) set_this_thread_nice(m_options.nice);
        flush_loop();
    });
}

void Completer::submit(Finished finished) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_space.wait(lock, [&] { return m_queue.size() < m_options.max_pending || m_stopping; });
    m_queue.push_back(std::move(finished));
    m_cv.notify_one();
}

void Completer::stop() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stopping = true;
    }
    m_cv.notify_all();
    m_space.notify_all();
    if (m_thread.joinable()) m_thread.join();
    while (flush_once()) {
    }
}

std::size_t Completer::pending() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_queue.size();
}

bool Completer::flush_once() {
    std::vector<Finished> batch;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_queue.empty()) return false;
        std::size_t n = std::min(m_queue.size(), m_options.max_batch);
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(m_queue.front()));
            m_queue.pop_front();
        }
    }
    m_space.notify_all();
    record_batch(batch);
    return true;
}

void Completer::flush_loop() {
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            auto ready = [&] { return !m_queue.empty() || m_stopping; };
            // With live logs it wakes every interval to write them, outcomes or not.
            if (m_options.live_logs) m_cv.wait_for(lock, std::chrono::milliseconds(m_options.live_log_interval_ms), ready);
            else m_cv.wait(lock, ready);
            if (m_queue.empty() && m_stopping) return;
        }
        // Before the outcomes this flush takes: an attempt's snapshot never lands after its outcome.
        if (m_options.live_logs) write_live_logs();
        flush_once();
    }
}

std::size_t Completer::write_live_logs(bool force) {
    if (!m_options.live_logs || !m_options.clock) return 0;
    const std::int64_t now = m_options.clock->steady_ns();
    if (!force && now < m_next_live_ns) return 0;
    m_next_live_ns = now + m_options.live_log_interval_ms * 1'000'000;
    if (m_outage.in_outage()) return 0;  // the outcomes' retries come first; the logs go with them
    std::vector<StoredAttemptLog> logs = m_options.live_logs->changed(m_options.live_log_max_bytes);
    if (logs.empty()) return 0;
    try {
        m_store.write_running_logs(logs);
        m_live_warned = false;
    } catch (const std::exception& e) {
        // The outcomes will carry the whole logs; a line that comes later marks its log again.
        if (!m_live_warned) log::warn(std::string("could not write the logs of running jobs: ") + e.what());
        m_live_warned = true;
    }
    return logs.size();
}

// Retries a batch through an outage (the statement is compare-and-set, and a commit whose
// reply was lost is resolved by the store, so a retry never records an outcome twice).
void Completer::record_batch(std::vector<Finished>& batch) {
    std::vector<Outcome> outcomes;
    outcomes.reserve(batch.size());
    for (auto& f : batch) outcomes.push_back(std::move(*f.verdict.outcome));
    int failures = 0;
    for (;;) {
        try {
            std::vector<OutcomeStatus> status = record(outcomes);
            m_outage.ok();
            for (std::size_t i = 0; i < batch.size(); ++i)
                m_done(batch[i], outcomes[i], i < status.size() ? status[i] : OutcomeStatus::lost, false);
            if (m_options.batch_done) m_options.batch_done();
            return;
        } catch (const Error& e) {
            if (e.code() == ErrorCode::db_unavailable && !e.in_doubt()) {
                m_outage.failed("completer", e.what());
                if (!m_outage.exceeded()) {
                    m_options.sleep(OutageMonitor::pause_ms(++failures));
                    continue;
                }
            }
            log::error(std::string("could not record ") + std::to_string(batch.size()) +
                       " outcome(s); their jobs will be rescued: " + e.what());
        } catch (const std::exception& e) {
            log::error(std::string("could not record ") + std::to_string(batch.size()) +
                       " outcome(s); their jobs will be rescued: " + e.what());
        }
        for (std::size_t i = 0; i < batch.size(); ++i) m_done(batch[i], outcomes[i], OutcomeStatus::lost, true);
        if (m_options.batch_done) m_options.batch_done();
        return;
    }
}

std::vector<OutcomeStatus> Completer::record(const std::vector<Outcome>& outcomes) {
    ClaimSource::Reservation reservation = m_claims.reserve_for_flush();
    std::vector<Job> claimed;
    std::vector<OutcomeStatus> status;
    try {
        status = m_store.record_outcomes_and_claim(outcomes, reservation.request, claimed);
    } catch (...) {
        m_claims.flushed(reservation, {});
        throw;
    }
    m_claims.flushed(reservation, std::move(claimed));
    return status;
}

}  // namespace wfq::engine
