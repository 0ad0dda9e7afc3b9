// The logs of running attempts, written while they run (see wfq/live_log.h).
#include <wfq/live_log.h>

namespace wfq {

void LiveLog::add_line(std::string_view line) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_capture.add_line(line);
    m_changed = true;
}

std::optional<AttemptLog> LiveLog::changed() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_changed) return std::nullopt;
    m_changed = false;
    return m_capture.peek();
}

AttemptLog LiveLog::take() {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_changed = false;
    return m_capture.take();
}

std::shared_ptr<LiveLog> LiveLogs::open(std::int64_t job_id, int attempt, std::size_t cap) {
    auto log = std::make_shared<LiveLog>(job_id, attempt, cap);
    if (cap == 0) return log;  // nothing will be kept: nothing to write
    std::lock_guard<std::mutex> lock(m_mutex);
    m_logs[{job_id, attempt}] = log;
    return log;
}

AttemptLog LiveLogs::close(const std::shared_ptr<LiveLog>& log) {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_logs.find({log->job_id(), log->attempt()});
        if (it != m_logs.end() && it->second == log) m_logs.erase(it);
    }
    return log->take();
}

std::vector<StoredAttemptLog> LiveLogs::changed(std::size_t max_bytes) {
    std::vector<StoredAttemptLog> out;
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_logs.empty()) return out;
    std::size_t bytes = 0;
    auto start = m_logs.lower_bound(m_next);
    auto it = start;
    for (std::size_t seen = 0; seen < m_logs.size(); ++seen, ++it) {
        if (it == m_logs.end()) it = m_logs.begin();
        if (!out.empty() && bytes >= max_bytes) {
            m_next = it->first;  // the budget is spent: this one comes first next time
            return out;
        }
        if (auto log = it->second->changed()) {
            bytes += log->text.size();
            StoredAttemptLog s;
            s.job_id = it->first.first;
            s.attempt = it->first.second;
            s.log = std::move(*log);
            out.push_back(std::move(s));
        }
    }
    m_next = {0, 0};
    return out;
}

std::size_t LiveLogs::open_count() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_logs.size();
}

std::shared_ptr<LiveLog> open_attempt_log(LiveLogs* logs, std::int64_t job_id, int attempt, std::size_t cap) {
    return logs ? logs->open(job_id, attempt, cap) : std::make_shared<LiveLog>(job_id, attempt, cap);
}

AttemptLog close_attempt_log(LiveLogs* logs, const std::shared_ptr<LiveLog>& log) {
    return logs ? logs->close(log) : log->take();
}

}  // namespace wfq
