#include "watchers.h"

#include <wfq/log.h>
#include <wfq/process_runner.h>

#include <chrono>

namespace wfq::engine {

Watchers::Watchers(Store& store, SlotTable& table, ConfigCache* cache, std::int64_t config_retry_ms, std::string worker_id)
    : m_store(store), m_table(table), m_cache(cache), m_config_retry_ms(config_retry_ms), m_worker_id(std::move(worker_id)) {}

Watchers::~Watchers() {
    close();
    join();
}

void Watchers::start() {
    if (m_cache)
        m_config = std::thread([this] {
            name_this_thread("wfq-config");
            config_loop();
        });
    m_control = std::thread([this] {
        name_this_thread("wfq-control");
        control_loop();
    });
}

void Watchers::close() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_closing = true;
        if (m_control_waker) m_control_waker->interrupt();
        if (m_config_watcher) m_config_watcher->interrupt();
    }
    m_cv.notify_all();
}

void Watchers::join() {
    if (m_config.joinable()) m_config.join();
    if (m_control.joinable()) m_control.join();
}

void Watchers::control_loop() {
    watch(m_control_waker, "control watcher", 1000, [&] { return m_store.open_control_waker(); }, [&](Waker& waker) {
        if (waker.wait(kWatchWaitMs)) m_table.request_renewal();
    });
}

void Watchers::config_loop() {
    watch(
        m_config_watcher, "config watcher", m_config_retry_ms,
        [&] {
            auto watcher = m_store.open_config_watcher();
            m_cache->clear();  // changes made while we were not watching are unknown
            return watcher;
        },
        [&](ConfigWatcher& watcher) {
            for (const auto& scope : watcher.poll(kWatchWaitMs)) {
                m_cache->invalidate_scope(scope);
                log::debug("config cache invalidated", {{"scope", scope}, {"worker_id", m_worker_id}});
            }
        });
}

template <typename W, typename Open, typename Step>
void Watchers::watch(W*& slot, const char* what, std::int64_t retry_ms, Open open, Step step) {
    std::unique_ptr<W> watcher;
    auto unwatch = [&] {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            slot = nullptr;
        }
        watcher.reset();
    };
    for (;;) {
        try {
            if (!watcher) {
                std::unique_ptr<W> opened = open();
                std::lock_guard<std::mutex> lock(m_mutex);
                if (m_closing) return;
                watcher = std::move(opened);
                slot = watcher.get();
            }
            step(*watcher);
        } catch (const std::exception& e) {
            unwatch();
            log::debug(std::string(what) + " failed: " + e.what(), {{"worker_id", m_worker_id}});
            std::unique_lock<std::mutex> lock(m_mutex);
            m_cv.wait_for(lock, std::chrono::milliseconds(retry_ms), [&] { return m_closing; });
        }
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (!m_closing) continue;
        }
        unwatch();
        return;
    }
}

}  // namespace wfq::engine
