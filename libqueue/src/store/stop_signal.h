#pragma once
// Internal: ends the waits of a store's wakers and watchers when a worker closes, so that they
// can wait long (an idle worker then wakes rarely) without holding up its shutdown.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace wfq::store {

class StopSignal {
public:
    StopSignal() : m_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
    ~StopSignal() {
        if (m_fd >= 0) ::close(m_fd);
    }
    StopSignal(const StopSignal&) = delete;
    StopSignal& operator=(const StopSignal&) = delete;
    // From any thread: the wait under way ends, and every later one returns at once.
    void raise() {
        m_raised.store(true);
        const std::uint64_t one = 1;
        if (m_fd >= 0 && ::write(m_fd, &one, sizeof one) < 0) {
        }  // the counter is already set: nothing to add
    }
    bool raised() const { return m_raised.load(); }
    // Readable once raised, for a poll() that also waits on something else (-1: no eventfd;
    // the waits then end at their timeouts).
    int fd() const { return m_fd; }
    // Sleeps up to ms, or until raised; false when raised.
    bool sleep(std::chrono::milliseconds ms) {
        if (raised()) return false;
        if (m_fd < 0) {
            std::this_thread::sleep_for(ms);
        } else {
            pollfd p{m_fd, POLLIN, 0};
            ::poll(&p, 1, static_cast<int>(ms.count()));
        }
        return !raised();
    }

private:
    int m_fd;
    std::atomic<bool> m_raised{false};
};

}  // namespace wfq::store
