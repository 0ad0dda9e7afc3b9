#include "outage.h"

#include <wfq/duration.h>
#include <wfq/log.h>

#include <algorithm>

namespace wfq::engine {

OutageMonitor::OutageMonitor(Clock& clock, std::int64_t max_outage_ms, std::string worker_id)
    : m_clock(clock), m_max_outage_ms(max_outage_ms), m_worker_id(std::move(worker_id)) {}

void OutageMonitor::failed(const char* role, const std::string& error) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_in_outage) return;
    m_in_outage = true;
    m_started_ns = m_clock.steady_ns();
    m_first_error = error;
    log::warn("database unavailable; riding out the outage (running handlers go on, claiming stops)",
              {{"worker_id", m_worker_id}, {"role", role}, {"error", error},
               {"max_outage", format_duration_ms(m_max_outage_ms)}});
}

void OutageMonitor::ok() {
    if (!m_in_outage) return;
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_in_outage) return;
    m_in_outage = false;
    std::int64_t ms = (m_clock.steady_ns() - m_started_ns) / 1'000'000;
    log::info("database back; outage over", {{"worker_id", m_worker_id}, {"outage", format_duration_ms(std::max<std::int64_t>(1, ms))}});
}

bool OutageMonitor::exceeded() const {
    if (!m_in_outage) return false;
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_in_outage && (m_clock.steady_ns() - m_started_ns) / 1'000'000 > m_max_outage_ms;
}

std::int64_t OutageMonitor::pause_ms(int consecutive_failures) {
    std::int64_t ms = 50;
    for (int i = 1; i < consecutive_failures && ms < 1000; ++i) ms *= 2;
    return std::min<std::int64_t>(ms, 1000);
}

}  // namespace wfq::engine
