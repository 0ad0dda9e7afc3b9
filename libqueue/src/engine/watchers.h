#pragma once
// Internal: the worker's two watchers, each on a thread of its own: the control watcher wakes the
// lease keeper when an operator cancels a running job (so its handler stops within a moment,
// not at the next heartbeat), and the config watcher applies invalidations from `wfq config
// set/unset` and `wfq cache invalidate` to the config cache. Each reopens after a failure.
#include "slot_table.h"

#include <wfq/config_cache.h>
#include <wfq/store.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace wfq::engine {

class Watchers {
public:
    // cache null: no config watcher.
    Watchers(Store& store, SlotTable& table, ConfigCache* cache, std::int64_t config_retry_ms, std::string worker_id);
    ~Watchers();
    void start();
    // Interrupts the waits under way (they are long): the threads end at once, or once an open
    // under way returns.
    void close();
    void join();

    // The waits are long: an idle worker wakes for them about once a second, not every 50 ms.
    static constexpr std::int64_t kWatchWaitMs = 1000;

private:
    void control_loop();
    void config_loop();
    // Runs a watcher until close(): opens it (again retry_ms after a failure), registers it in
    // slot before it first waits, and calls step for each wait. A watcher opened once closing
    // is dropped unused.
    template <typename W, typename Open, typename Step>
    void watch(W*& slot, const char* what, std::int64_t retry_ms, Open open, Step step);

    Store& m_store;
    SlotTable& m_table;
    ConfigCache* m_cache;
    const std::int64_t m_config_retry_ms;
    const std::string m_worker_id;
    std::mutex m_mutex;
    std::condition_variable m_cv;  // closing
    bool m_closing = false;
    Waker* m_control_waker = nullptr;         // under m_mutex: registered for close()
    ConfigWatcher* m_config_watcher = nullptr;  // under m_mutex
    std::thread m_control, m_config;
};

}  // namespace wfq::engine
