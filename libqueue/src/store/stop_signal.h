#pragma once
// Internal: ends the waits of a store's wakers and watchers when a worker closes, so that they
// can wait long (an idle worker then wakes rarely) without holding up its shutdown.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

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
    // Waits up to ms for fd to become readable (fd -1: a sleep), or until raised; true when fd
    // is readable and the signal not raised. Without an eventfd a raise ends nothing under way:
    // the wait runs to its timeout.
    bool wait_readable(int fd, std::chrono::milliseconds ms) {
        if (raised()) return false;
        pollfd p[2] = {{fd, POLLIN, 0}, {m_fd, POLLIN, 0}};  // poll() skips a negative fd
        const int n = ::poll(p, 2, static_cast<int>(std::max<std::int64_t>(0, ms.count())));
        return n > 0 && !raised() && (p[0].revents & (POLLIN | POLLHUP | POLLERR));
    }
    // Sleeps up to ms, or until raised; false when raised.
    bool sleep(std::chrono::milliseconds ms) {
        wait_readable(-1, ms);
        return !raised();
    }

private:
    int m_fd;
    std::atomic<bool> m_raised{false};
};

}  // namespace wfq::store
