#pragma once
// A job's own log: the stderr lines its handler wrote during one attempt, the newest kept up to
// a cap (--log-cap), stored with the attempt's outcome and pruned with the job.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wfq {

constexpr std::size_t kDefaultLogCap = 64 * 1024;
constexpr std::size_t kMaxLogCap = 16 * 1024 * 1024;

// One attempt's log: whole lines, each ending in '\n', valid UTF-8; dropped_bytes counts the
// older lines that did not fit the cap.
struct AttemptLog {
    std::string text;
    std::int64_t dropped_bytes = 0;
    bool empty() const { return text.empty() && dropped_bytes == 0; }
};

// Collects one attempt's lines, keeping the newest that fit in cap bytes (0: keeps nothing).
// Not thread-safe: its owner serialises the calls.
class LogCapture {
public:
    explicit LogCapture(std::size_t cap = kDefaultLogCap);
    void add_line(std::string_view line);
    // The lines kept (older ones dropped to fit the cap); the capture is empty afterwards.
    AttemptLog take();
    // The lines kept so far, as take() would return them; the capture keeps them.
    AttemptLog peek() const;

private:
    static AttemptLog stored(std::string text, std::int64_t dropped);
    void trim_to(std::size_t bytes);

    std::size_t m_cap;
    std::string m_text;
    std::int64_t m_dropped = 0;
};

// An attempt's log as `wfq jobs logs` shows it.
struct StoredAttemptLog {
    std::int64_t job_id = 0;
    int attempt = 0;
    std::int64_t at_ms = 0;  // when the attempt's outcome was recorded (running: its log last written)
    AttemptLog log;
};

// "64KiB", "1MiB", "65536", "0" as a number of bytes for --log-cap (K/KiB, M/MiB are powers of
// 1024); throws Error(usage) naming flag on anything else or above kMaxLogCap.
std::size_t parse_log_cap(const std::string& flag, const std::string& text);

}  // namespace wfq
