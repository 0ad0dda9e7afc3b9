#pragma once
// The logs of the attempts a worker is running, while they run: the handler adds its stderr
// lines, and the completer writes the ones that changed every half second or so, so
// `wfq jobs logs --follow` shows a running job's lines before its outcome is recorded.
#include <wfq/job_log.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace wfq {

// One running attempt's log, shared by the handler that writes it and the worker that stores
// it. Thread-safe.
class LiveLog {
public:
    LiveLog(std::int64_t job_id, int attempt, std::size_t cap) : m_job_id(job_id), m_attempt(attempt), m_capture(cap) {}
    void add_line(std::string_view line);
    // The lines kept so far when some came since the last call (the capture keeps them).
    std::optional<AttemptLog> changed();
    // The whole log (see LogCapture::take); the log is empty afterwards.
    AttemptLog take();
    std::int64_t job_id() const { return m_job_id; }
    int attempt() const { return m_attempt; }

private:
    const std::int64_t m_job_id;
    const int m_attempt;
    std::mutex m_mutex;
    LogCapture m_capture;
    bool m_changed = false;
};

// The registry of a worker's running attempts' logs. A handler opens one per attempt and closes
// it before it returns the attempt's result: the final log then travels with the outcome, and
// no snapshot taken after the close is ever written over it (the completer writes snapshots and
// outcomes in order, on one thread).
class LiveLogs {
public:
    std::shared_ptr<LiveLog> open(std::int64_t job_id, int attempt, std::size_t cap);
    // Takes log out of the registry and returns its whole text.
    AttemptLog close(const std::shared_ptr<LiveLog>& log);
    // Snapshots of the logs that changed since they were last taken, up to about max_bytes of
    // text (at least one log); the others stay changed and come first next time.
    std::vector<StoredAttemptLog> changed(std::size_t max_bytes);
    std::size_t open_count() const;

private:
    using Key = std::pair<std::int64_t, int>;
    mutable std::mutex m_mutex;
    std::map<Key, std::shared_ptr<LiveLog>> m_logs;
    Key m_next{0, 0};  // where the next changed() starts, so a budget cut is fair
};

// An attempt's log for a handler: from the registry when there is one (the worker writes it
// while it runs), alone otherwise.
std::shared_ptr<LiveLog> open_attempt_log(LiveLogs* logs, std::int64_t job_id, int attempt, std::size_t cap);
AttemptLog close_attempt_log(LiveLogs* logs, const std::shared_ptr<LiveLog>& log);

}  // namespace wfq
