#include "singleton_lock.h"

namespace wfq::engine {

bool run_as_singleton(Store& store, const std::string& key, const std::string& owner, std::int64_t ttl_ms,
                      const std::function<void()>& task) {
    auto grant = store.lock_acquire(key, owner, ttl_ms);
    if (!grant) return false;
    try {
        task();
    } catch (...) {
        store.lock_release(key, grant->token);
        throw;
    }
    store.lock_release(key, grant->token);
    return true;
}

}  // namespace wfq::engine
