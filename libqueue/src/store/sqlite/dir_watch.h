#pragma once
// Internal: inotify on a SQLite database's directory, for the waiters of sqlite_db.cpp.
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>

namespace wfq::store {

// Writes to the database's directory (another connection's commit writes the WAL), seen with
// inotify: an idle waiter sleeps until one comes instead of polling. Inactive where inotify
// is unavailable; the waiters then poll.
class DirWatch {
public:
    explicit DirWatch(const std::string& db_path) {
        m_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        // SQLite follows a symbolic link to the database and writes the WAL beside the file
        // itself: watch that file's directory.
        std::error_code ec;
        std::filesystem::path real = std::filesystem::canonical(db_path, ec);
        std::string dir = (ec ? std::filesystem::path(db_path) : real).parent_path().string();
        if (m_fd >= 0 && inotify_add_watch(m_fd, dir.empty() ? "." : dir.c_str(), IN_MODIFY) < 0) {
            ::close(m_fd);
            m_fd = -1;
        }
    }
    ~DirWatch() {
        if (m_fd >= 0) ::close(m_fd);
    }
    DirWatch(const DirWatch&) = delete;
    DirWatch& operator=(const DirWatch&) = delete;
    bool active() const { return m_fd >= 0; }
    // Waits up to ms for a write; true when one came (and drains the events).
    bool wait(std::int64_t ms) {
        pollfd p{m_fd, POLLIN, 0};
        if (m_fd < 0 || ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, ms))) <= 0) return false;
        drain();
        return true;
    }
    // Between two looks of a poller: gap, then until the next write (most at longest, in case
    // an event is missed, and never past deadline). After a write the next pause is gap alone,
    // for one more look: a commit is published just after its WAL write. look_again carries
    // that between the pauses of one wait. Without inotify: gap alone.
    void pause(std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds gap,
               std::chrono::milliseconds most, bool& look_again) {
        std::this_thread::sleep_for(gap);
        if (!active() || look_again) {
            look_again = false;
            return;
        }
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        look_again = wait(std::min(left, most).count());
    }
    // Discards the events waiting; true when there were any.
    bool drain() {
        if (m_fd < 0) return false;
        bool any = false;
        alignas(inotify_event) char buf[4096];
        while (::read(m_fd, buf, sizeof buf) > 0) any = true;
        return any;
    }

private:
    int m_fd = -1;
};

}  // namespace wfq::store
