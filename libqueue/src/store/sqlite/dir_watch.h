#pragma once
// Internal: inotify on a SQLite database's directory, for the waiters of sqlite_db.cpp.
#include "../stop_signal.h"

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
//
// The watch is armed only while a waiter waits (the main waker's: while the worker is idle,
// see Waker::rest): every write to a watched directory queues an
// event for each watch on it, paid by the writer (a commit writes the WAL a page at a time), so
// a worker's three waiters, armed all the time, cost its own completer about a tenth of its
// time on a busy database. Disarmed, the watch stays in place with a mask that no write
// matches: adding a watch where the directory has none costs the kernel about 200 us, changing
// its mask about 1 us. The parked mask is IN_ATTRIB, an event on the directory's files like
// IN_MODIFY, so that the directory watches its files either way: older kernels (6.1, as its
// source reads) walk every cached entry of the directory (a large /tmp, say) when that state
// changes.
class DirWatch {
public:
    explicit DirWatch(const std::string& db_path) {
        // SQLite follows a symbolic link to the database and writes the WAL beside the file
        // itself: watch that file's directory.
        std::error_code ec;
        std::filesystem::path real = std::filesystem::canonical(db_path, ec);
        m_dir = (ec ? std::filesystem::path(db_path) : real).parent_path().string();
        if (m_dir.empty()) m_dir = ".";
        m_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (m_fd >= 0 && inotify_add_watch(m_fd, m_dir.c_str(), kParked) < 0) {  // a directory we cannot watch: poll
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
    bool armed() const { return m_armed; }
    // From any thread: the wait or pause under way ends, and every later one returns at once.
    void interrupt() { m_stop.raise(); }
    bool stopped() const { return m_stop.raised(); }
    // Sleeps up to ms, or until interrupted; false when interrupted.
    bool sleep(std::chrono::milliseconds ms) { return m_stop.sleep(ms); }
    // Writes from now on are seen. False where inotify is unavailable (or the directory went
    // away): the caller polls instead.
    bool arm() {
        if (m_fd >= 0 && !m_armed) m_armed = inotify_add_watch(m_fd, m_dir.c_str(), IN_MODIFY) >= 0;
        return m_armed;
    }
    // Writes stop being seen (and stop costing the writers); the events waiting are dropped.
    void disarm() {
        if (!m_armed) return;
        inotify_add_watch(m_fd, m_dir.c_str(), kParked);
        m_armed = false;
        drain();
    }
    // Armed: waits up to ms for a write; true when one came (and takes the events). Not
    // armed, or interrupted: false at once.
    bool wait(std::int64_t ms) {
        return m_armed && m_stop.wait_readable(m_fd, std::chrono::milliseconds(ms)) && drain();
    }
    // Between two looks of a poller (changed: the last look found the database changed since
    // the one before). While the database is busy (a change, or a write just seen) it sleeps
    // gap, disarmed: at most one look per gap, none woken by a write. Once a look finds it
    // quiet, the watch is armed and the caller looks once more (a write made before arming
    // went unseen); after that it waits for the next write, most at longest and never past
    // deadline. A write ends the wait and counts as busy: a commit is published just after
    // its WAL write, so the look after the gap sees it. Without inotify: the gap alone.
    void pause(std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds gap,
               std::chrono::milliseconds most, bool changed) {
        if (changed || m_written || !active()) {
            disarm();
            m_written = false;
            sleep(gap);
            return;
        }
        if (!m_armed) {
            if (!arm()) sleep(gap);
            return;
        }
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (wait(std::min(left, most).count())) {
            disarm();
            m_written = true;
        }
    }
    // Takes the events waiting; true when a write was among them (or events were lost).
    bool drain() {
        if (m_fd < 0) return false;
        bool write = false;
        alignas(inotify_event) char buf[4096];
        ssize_t n;
        while ((n = ::read(m_fd, buf, sizeof buf)) > 0)
            for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
                const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
                write = write || (e->mask & (IN_MODIFY | IN_Q_OVERFLOW));  // events lost: writes, perhaps
                at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
            }
        return write;
    }

private:
    static constexpr std::uint32_t kParked = IN_ATTRIB;  // the mask while disarmed: no write matches it
    std::string m_dir;
    int m_fd = -1;
    bool m_armed = false;
    StopSignal m_stop;
    bool m_written = false;  // pause() saw a write: the next pause is the gap
};

}  // namespace wfq::store
