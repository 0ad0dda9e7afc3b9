#pragma once
// Internal: how a worker rides out a database outage. Every role (claimer, completer, lease
// keeper) reports its database calls here; the outage is logged once when it starts and once
// when it ends, and is "exceeded" once it lasts longer than --max-outage.
#include <wfq/clock.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace wfq::engine {

class OutageMonitor {
public:
    OutageMonitor(Clock& clock, std::int64_t max_outage_ms, std::string worker_id);
    // A role's database call failed because the database is unavailable.
    void failed(const char* role, const std::string& error);
    // A role's database call succeeded: an outage in progress is over.
    void ok();
    bool in_outage() const { return m_in_outage.load(); }
    // True once an outage has lasted longer than max_outage_ms.
    bool exceeded() const;
    // How long a role should pause before trying again (capped exponential, by its own count).
    static std::int64_t pause_ms(int consecutive_failures);

private:
    Clock& m_clock;
    std::int64_t m_max_outage_ms;
    std::string m_worker_id;
    mutable std::mutex m_mutex;
    std::atomic<bool> m_in_outage{false};
    std::int64_t m_started_ns = 0;
    std::string m_first_error;
};

}  // namespace wfq::engine
