#pragma once
// Internal: maintenance that one process at a time does (the rescuer, the retention pruner)
// runs under a lease lock of its own, taken with one try and released however the task ends.
#include <wfq/store.h>

#include <cstdint>
#include <functional>
#include <string>

namespace wfq::engine {

// Runs task holding the lease lock key (ttl_ms) as owner; false, without running it, when
// another owner holds the lock.
bool run_as_singleton(Store& store, const std::string& key, const std::string& owner, std::int64_t ttl_ms,
                      const std::function<void()>& task);

}  // namespace wfq::engine
