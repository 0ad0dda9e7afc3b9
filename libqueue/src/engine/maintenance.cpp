#include "maintenance.h"

#include "singleton_lock.h"

#include <wfq/clock.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>
#include <wfq/schedule.h>

#include <algorithm>
#include <chrono>
#include <climits>

namespace wfq {

std::optional<RescueReport> rescue_once(Store& store, const std::string& owner, std::int64_t dead_after_ms) {
    RescueReport report;
    if (!engine::run_as_singleton(store, "wfq:rescuer", owner, 60000, [&] { report = store.rescue(dead_after_ms); }))
        return std::nullopt;
    return report;
}

}  // namespace wfq

namespace wfq::engine {

Maintenance::Maintenance(Store& store, OutageMonitor& outage, Reporter& reporter, Clock& clock, const WorkerOptions& options,
                         std::string worker_id)
    : m_store(store), m_outage(outage), m_reporter(reporter), m_clock(clock), m_options(options),
      m_worker_id(std::move(worker_id)),
      // Each at start, then on its own period (never when it is 0).
      m_next_rescue(options.rescue_interval_ms > 0 ? 0 : INT64_MAX),
      m_next_prune(options.retention_ms > 0 ? 0 : INT64_MAX),
      m_next_schedules(options.schedule_interval_ms > 0 ? 0 : INT64_MAX) {}

Maintenance::~Maintenance() { stop(); }

std::int64_t Maintenance::prune_every_ms(std::int64_t retention_ms) {
    return std::clamp<std::int64_t>(retention_ms / 10, 1000, 60000);
}

void Maintenance::start() {
    m_thread = std::thread([this] {
        name_this_thread("wfq-maint");
        run();
    });
}

void Maintenance::stop() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stopping = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

void Maintenance::run() {
    for (;;) {
        const std::int64_t next = pass(m_clock.steady_ns() / 1'000'000);
        std::unique_lock<std::mutex> lock(m_mutex);
        const std::int64_t wait = std::max<std::int64_t>(0, next - m_clock.steady_ns() / 1'000'000);
        if (m_cv.wait_for(lock, std::chrono::milliseconds(wait), [&] { return m_stopping; })) return;
    }
}

std::int64_t Maintenance::pass(std::int64_t now) {
    if (now >= m_next_schedules) {
        m_next_schedules = now + m_options.schedule_interval_ms;
        if (!m_outage.in_outage()) tick_schedules();
    }
    if (now >= m_next_flush) {
        m_next_flush = now + m_options.heartbeat_ms;
        m_reporter.flush();
        if (m_options.metrics_listen && !m_outage.in_outage()) {
            try {
                m_reporter.set_queue_gauges(render_queue_metrics(m_store.queue_metrics(m_options.dead_after_ms)));
            } catch (const std::exception& e) {
                log::warn(std::string("could not read the queue gauges for /metrics: ") + e.what(), {{"worker_id", m_worker_id}});
            }
        }
    }
    if (now >= m_next_prune) {
        m_next_prune = now + prune_every_ms(m_options.retention_ms);
        if (!m_outage.in_outage()) {
            try {
                prune();
            } catch (const std::exception& e) {
                log::warn(std::string("retention prune failed: ") + e.what(), {{"worker_id", m_worker_id}});
            }
        }
    }
    if (now >= m_next_rescue) {
        m_next_rescue = now + m_options.rescue_interval_ms;
        if (!m_outage.in_outage()) {
            try {
                rescue();
            } catch (const std::exception& e) {
                log::warn(std::string("rescue failed: ") + e.what(), {{"worker_id", m_worker_id}});
            }
        }
    }
    return std::min({m_next_schedules, m_next_flush, m_next_prune, m_next_rescue});
}

void Maintenance::rescue() {
    if (auto report = rescue_once(m_store, m_worker_id, m_options.dead_after_ms)) m_reporter.rescued(*report);
}

// Deletes finished jobs past --retention under the lock "wfq:retention" (one pruner at a time).
void Maintenance::prune() {
    std::int64_t n = 0;
    run_as_singleton(m_store, "wfq:retention", m_worker_id, 600000, [&] {
        n = m_store.prune(m_options.retention_ms, {JobState::completed, JobState::failed, JobState::cancelled}, 1000, nullptr);
    });
    if (n > 0) log::info("pruned finished jobs past --retention", {{"worker_id", m_worker_id}, {"jobs", std::to_string(n)}});
}

// Enqueues the due ticks of periodic schedules (exactly once across workers: see schedule_fire).
void Maintenance::tick_schedules() {
    try {
        for (const auto& f : wfq::tick_schedules(m_store))
            log::info("schedule enqueued its tick", {{"schedule", f.schedule}, {"scheduled_for", format_time(f.scheduled_for)},
                                                      {"job_id", std::to_string(f.job_id)}, {"worker_id", m_worker_id}});
    } catch (const std::exception& e) {
        log::warn(std::string("schedule tick failed: ") + e.what(), {{"worker_id", m_worker_id}});
    }
}

}  // namespace wfq::engine
